package vcard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/exporters/archive"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
	"github.com/miexit/miexit/mapping/vcard"
)

// TestArchiveExportWithThisDecoder plugs Decode into the archive exporter
// (archive.DecodeVCF) and exports a folder holding a 2.1 export with one
// broken card: the good cards arrive in contacts.vcf as 4.0, names,
// phonetic names, custom labels and the photo intact.
func TestArchiveExportWithThisDecoder(t *testing.T) {
	var skipped []string
	old := archive.DecodeVCF
	archive.DecodeVCF = func(r io.Reader, name string, fn func(mapping.Contact) error) error {
		for c, err := range vcard.Decode(r, name) {
			if errors.Is(err, mapping.ErrBadInput) {
				skipped = append(skipped, err.Error())
				continue
			}
			if err != nil {
				return err
			}
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	t.Cleanup(func() { archive.DecodeVCF = old })

	in := t.TempDir()
	card := "BEGIN:VCARD\r\nVERSION:2.1\r\n" +
		"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B;=E5=B0=8F=E6=98=8E;;;\r\n" +
		"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B=E5=B0=8F=\r\n=E6=98=8E\r\n" +
		"X-PHONETIC-FIRST-NAME:xiao ming\r\nTEL;X-Work Mobile:+86 10 1234 5678\r\n" +
		"PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQ\r\n SkZJRg==\r\n\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\nno colon here\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:After\r\nEND:VCARD\r\n"
	if err := os.WriteFile(filepath.Join(in, "00001.vcf"), []byte(card), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := archive.New(exporters.Params{Arg: in, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	w, err := snapshot.Create(out, snapshot.Options{Source: "archive:" + in})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], "00001.vcf line 15") {
		t.Errorf("skipped %v, want the broken line 15", skipped)
	}
	b, err := os.ReadFile(filepath.Join(out, snapshot.ContactsPath))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\r\n ", "")
	for _, want := range []string{"VERSION:4.0", "FN:王小明", "N:王;小明;;;", "X-PHONETIC-FIRST-NAME:xiao ming",
		"TEL;TYPE=X-Work Mobile:+86 10 1234 5678", "PHOTO:data:image/jpeg;base64", "FN:After"} {
		if !strings.Contains(text, want) {
			t.Errorf("contacts.vcf lacks %q:\n%s", want, text)
		}
	}
}
