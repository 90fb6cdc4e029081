package vcard

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecode: whatever the bytes, decoding never panics, and every card it
// yields survives Encode 4.0 and Decode unchanged. Seeds live in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(miuiCard))
	f.Add([]byte("BEGIN:VCARD\nVERSION:3.0\nN:a\\;b;c\nTEL;TYPE=\"x,y:z\",PREF:1\nEND:VCARD\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &Decoder{MaxLine: 4 << 10, MaxCard: 16 << 10}
		for c, err := range d.Decode(bytes.NewReader(data), "fuzz.vcf") {
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.vcf line ") {
					t.Fatalf("error does not name file and line: %v", err)
				}
				continue
			}
			var b bytes.Buffer
			if err := Encode(&b, c.Card, V4); err != nil {
				t.Fatal(err)
			}
			n := 0
			for back, err := range Decode(bytes.NewReader(b.Bytes()), "again.vcf") {
				if err != nil {
					t.Fatalf("re-decoding our own output: %v\n%s", err, b.String())
				}
				n++
				if diff := diffCards(c.Card, back.Card); len(diff) > 0 {
					t.Fatalf("round trip changed the card: %v\n%s", diff, b.String())
				}
			}
			if n != 1 {
				t.Fatalf("our output decoded to %d cards:\n%s", n, b.String())
			}
		}
	})
}
