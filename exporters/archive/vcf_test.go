package archive

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
)

// A 2.1 export as Android writes it, with one broken card: the good cards
// arrive in contacts.vcf as 4.0 with names, phonetic names, custom labels
// and the photo intact, and the broken one is reported by file and line.
func TestVCard21ExportKeepsEverythingAndSkipsABrokenCard(t *testing.T) {
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
	var mu sync.Mutex
	var skipped []string
	rep := progress.Func(func(e progress.Event) {
		if e.Action == progress.Skipped {
			mu.Lock()
			skipped = append(skipped, e.Err)
			mu.Unlock()
		}
	})
	ctx := context.Background()
	e, _ := New(exporters.Params{Arg: in})
	out := t.TempDir()
	w, err := snapshot.Create(out, snapshot.Options{Progress: rep})
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
		t.Errorf("skipped %v, want the broken card at line 15", skipped)
	}
	if n := w.Counts().Contacts; n != 2 {
		t.Errorf("%d contacts, want 2", n)
	}
	b, err := os.ReadFile(filepath.Join(out, snapshot.ContactsPath))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\r\n ", "")
	for _, want := range []string{"VERSION:4.0", "FN:王小明", "N:王;小明;;;", "X-PHONETIC-FIRST-NAME:xiao ming",
		`TEL;TYPE="X-Work Mobile":+86 10 1234 5678`, "PHOTO:data:image/jpeg;base64,", "FN:After"} {
		if !strings.Contains(text, want) {
			t.Errorf("contacts.vcf lacks %q:\n%s", want, text)
		}
	}
}
