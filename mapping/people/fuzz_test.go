package people

import (
	"bytes"
	"strings"
	"testing"

	mvcard "github.com/miexit/miexit/mapping/vcard"
)

// FuzzPersonFidelity: for any card the vCard decoder yields, every field
// maps to a Person field or is reported, and Person -> model -> Person is a
// fixed point. Seeds live in testdata/fuzz/FuzzPersonFidelity.
func FuzzPersonFidelity(f *testing.F) {
	f.Add([]byte(androidCard))
	f.Add([]byte("BEGIN:VCARD\nVERSION:4.0\nN;SORT-AS=\"a,b\":A;B;;;\nitem1.TEL:1\nitem1.X-ABLabel:_$!<Mobile>!$_\nIMPP;X-SERVICE-TYPE=Skype:skype:x\nEND:VCARD\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &mvcard.Decoder{MaxLine: 2 << 10, MaxCard: 4 << 10}
		for c, err := range d.Decode(bytes.NewReader(data), "fuzz.vcf") {
			if err != nil {
				continue
			}
			if problems := checkContact(c); len(problems) > 0 {
				t.Fatalf("%s", strings.Join(problems, "\n"))
			}
		}
	})
}
