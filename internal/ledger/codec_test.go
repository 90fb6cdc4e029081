package ledger

import (
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

func TestDamagedRecordsAreErrorsNotPanics(t *testing.T) {
	good := encode(&Record{SHA256: "ab", Size: 3, Extra: map[string]string{"k": "v"}})
	for i := 1; i < len(good); i++ {
		var r Record
		if err := decode(good[:i], &r); err == nil {
			t.Errorf("a record cut at %d bytes decoded", i)
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
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if decode(b, &r) == nil && len(b) > 0 && b[0] == codecBinary {
			var again Record
			if err := decode(encode(&r), &again); err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
		}
	})
}
