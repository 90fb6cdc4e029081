package snapshot

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	entryjson "github.com/segmentio/encoding/json"

	"github.com/miexit/miexit/mapping"
)

// FuzzEntryLine holds the manifest reader's decoder to encoding/json's
// results: a line it accepts, encoding/json reads the same way, and every
// entry encoding/json writes (as Writer does) reads back the same. It may
// refuse more (it refuses times encoding/json lets pass, such as hour "0"
// with a comma before the fraction: found by this fuzz test). A decoder
// that read a line differently could make a re-run check the wrong file.
func FuzzEntryLine(f *testing.F) {
	e := mapping.Entry{Kind: mapping.KindMedia, Key: "DCIM/Camera/IMG_1.jpg", Path: "media/DCIM/Camera/IMG_1.jpg", Size: 52999,
		SHA256: "6ca350b74200f0f305e82918a2cd11127eafb5b40cb49cbfa2344d13c5d1da29", Modified: time.Date(2023, 1, 1, 12, 0, 0, 5, time.UTC),
		Taken: time.Date(2023, 1, 1, 12, 0, 0, 0, time.FixedZone("", 3600)), TakenFrom: "exif", MIME: "image/jpeg"}
	line, err := json.Marshal(e)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(line)
	f.Add([]byte(`{"kind":"contact","key":"contact-1","path":"contacts/contacts.vcf","size":2328,"sha256":"df"}`))
	f.Add([]byte(`{"KIND":"media","Key":"a","size":1e3,"size":2}`))
	f.Add([]byte(`{"kind":"media","key":"a\u00e9\ud800\u0000","size":-1,"modified":"2023-01-01T12:00:00+01:00","x":[1,{}]}`))
	f.Add([]byte(`{"kind":"media","key":"\xff\xfe","size":9223372036854775808}`))
	f.Add([]byte(`{"kind":"media","modified":null,"taken":"2023-13-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got mapping.Entry
		werr := json.Unmarshal(b, &want)
		gerr := entryjson.Unmarshal(b, &got)
		if gerr == nil {
			if werr != nil {
				t.Fatalf("%q: encoding/json refuses it (%v), the reader's decoder reads %+v", b, werr, got)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("%q: encoding/json reads %+v, the reader's decoder %+v", b, want, got)
			}
		}
		if werr != nil {
			return
		}
		written, err := json.Marshal(want)
		if err != nil {
			return // a time outside what RFC 3339 can write
		}
		var again, back mapping.Entry
		if err := json.Unmarshal(written, &again); err != nil {
			t.Fatalf("%s: encoding/json refuses its own line: %v", written, err)
		}
		if err := entryjson.Unmarshal(written, &back); err != nil {
			t.Fatalf("%s (as written): the reader's decoder says %v", written, err)
		}
		if !reflect.DeepEqual(again, back) {
			t.Fatalf("%s (as written): encoding/json reads %+v, the reader's decoder %+v", written, again, back)
		}
	})
}
