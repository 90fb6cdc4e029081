package vcard_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
	"github.com/miexit/miexit/mapping/vcard"
)

// TestExportKeepsAndroidFields follows what `miexit export` of a folder of
// .vcf files does today: Decode, snapshot.Writer.AddContact (go-vcard's
// encoder), then reading contacts.vcf back, with this package's decoder and
// with the snapshot reader. Names, phonetic names, custom labels and the
// photo of a 2.1 card must be intact.
func TestExportKeepsAndroidFields(t *testing.T) {
	const card = "BEGIN:VCARD\r\nVERSION:2.1\r\n" +
		"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B;=E5=B0=8F=E6=98=8E;;;\r\n" +
		"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B=E5=B0=8F=\r\n=E6=98=8E\r\n" +
		"X-PHONETIC-FIRST-NAME:xiao ming\r\nX-PHONETIC-LAST-NAME:wang\r\n" +
		"TEL;CELL;PREF:138 0013 8000\r\nTEL;X-Work Mobile:+86 10 1234 5678\r\n" +
		"PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQ\r\n SkZJRg==\r\n\r\nEND:VCARD\r\n"
	var c mapping.Contact
	for got, err := range vcard.Decode(strings.NewReader(card), "in.vcf") {
		if err != nil {
			t.Fatal(err)
		}
		c = got
	}
	dir := t.TempDir()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "archive:test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.AddContact(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"FN": "王小明", "N": "王;小明;;;", "X-PHONETIC-FIRST-NAME": "xiao ming", "X-PHONETIC-LAST-NAME": "wang",
		"PHOTO": "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
	}
	check := func(how string, got mapping.Contact) {
		for k, v := range want {
			if g := got.Card.Value(k); g != v {
				t.Errorf("%s: %s = %q, want %q", how, k, g, v)
			}
		}
		tels := got.Card["TEL"]
		if len(tels) != 2 || tels[1].Params.Get("TYPE") != "X-Work Mobile" || tels[0].Params.Get("TYPE") != "CELL" {
			t.Errorf("%s: TEL = %+v %+v", how, tels[0], tels[len(tels)-1])
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, snapshot.ContactsPath)); testing.Verbose() {
		t.Logf("contacts.vcf:\n%s", b)
	}
	f, err := os.Open(filepath.Join(dir, snapshot.ContactsPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for got, err := range vcard.Decode(f, snapshot.ContactsPath) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		check("vcard.Decode", got)
		if got.Key != c.Key {
			t.Errorf("vcard.Decode: key %s became %s", c.Key, got.Key)
		}
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for got, err := range r.Contacts() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		check("snapshot.Reader", got)
		if got.Key != c.Key {
			t.Errorf("key %s became %s", c.Key, got.Key)
		}
	}
	if n != 2 {
		t.Errorf("read %d contacts, want 1 each way", n)
	}
}
