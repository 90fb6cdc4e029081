package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestRecordsRoundTripAndOldJSONRecordsStillRead(t *testing.T) {
	recs := []Record{
		{},
		{SHA256: "ab12", Size: 12345, RemoteID: "id:x", ModTime: time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)},
		{Size: -1, Extra: map[string]string{"session": "https://upload.example/x?y=1", "offset": "5242880"}},
		{ModTime: time.Unix(-5, 7).UTC()},
		{SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 4, ModTime: time.Unix(1e9, 0).UTC()},
		// Not lowercase hex: kept as it is, not normalized.
		{SHA256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", Size: 4},
		{SHA256: "zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
	}
	for _, r := range recs {
		var got Record
		if err := decode(encode(&r), &got); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if !got.ModTime.Equal(r.ModTime) {
			t.Fatalf("mtime %v, want %v", got.ModTime, r.ModTime)
		}
		got.ModTime, r.ModTime = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, r) && !(len(got.Extra) == 0 && len(r.Extra) == 0 && got.SHA256 == r.SHA256 && got.Size == r.Size && got.RemoteID == r.RemoteID) {
			t.Fatalf("round trip: %+v, want %+v", got, r)
		}
		old, _ := json.Marshal(&recs[1])
		var fromJSON Record
		if err := decode(old, &fromJSON); err != nil || fromJSON.SHA256 != "ab12" || !fromJSON.ModTime.Equal(recs[1].ModTime) {
			t.Fatalf("JSON record of an earlier version: %+v, %v", fromJSON, err)
		}
	}
}

// A sha256 in lowercase hex is kept as its 32 bytes: the ledger's pages
// are resident memory in a migrate's final check.
func TestAHexSHA256IsKeptAsItsBytes(t *testing.T) {
	hexed := encode(&Record{SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 4})
	other := encode(&Record{SHA256: "ab", Size: 4})
	if len(hexed) > len(other)+sha256.Size {
		t.Errorf("a record with a hex sha256 takes %d bytes, one with a 2-byte sha256 %d: the hex is stored as text", len(hexed), len(other))
	}
}

func TestDamagedRecordsAreErrorsNotPanics(t *testing.T) {
	for _, good := range [][]byte{
		encode(&Record{SHA256: "ab", Size: 3, Extra: map[string]string{"k": "v"}}),
		encode(&Record{SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 3}),
	} {
		for i := 1; i < len(good); i++ {
			var r Record
			if err := decode(good[:i], &r); err == nil {
				t.Errorf("a record cut at %d bytes of %d decoded", i, len(good))
			}
		}
	}
	var r Record
	if err := decode([]byte{codecBinary, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, &r); err == nil {
		t.Error("a huge length decoded")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(&Record{SHA256: "ab", Size: 3, ModTime: time.Unix(1, 2), Extra: map[string]string{"k": "v"}}))
	f.Add([]byte(`{"sha256":"x","size":1}`))
	f.Add(encode(&Record{SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if decode(b, &r) == nil && len(b) > 0 && (b[0] == codecBinary || b[0] == codecRawSHA) {
			var again Record
			if err := decode(encode(&r), &again); err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
		}
	})
}
