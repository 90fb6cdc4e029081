package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/exporters/archive/miui"
	"github.com/miexit/miexit/exporters/exportertest"
	"github.com/miexit/miexit/internal/miuigen"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func fixtureCounts(f *miuigen.Fixture) mapping.Counts {
	return mapping.Counts{Contacts: len(f.Contacts), Messages: len(f.SMS) + len(f.MMS), Calls: len(f.Calls), Notes: len(f.Notes)}
}

func newArchive(t *testing.T, p, password string) exporters.Exporter {
	t.Helper()
	e, err := New(exporters.Params{Arg: p, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMIUIBackupLayouts(t *testing.T) {
	f := miuigen.New(7, 12)
	want := fixtureCounts(f)
	cases := []struct {
		name string
		opt  miuigen.Options
		zip  bool
	}{
		{"AllBackup folder, compressed", miuigen.Options{Compressed: true, Seed: 7}, false},
		{"AllBackup folder, uncompressed", miuigen.Options{Seed: 7}, false},
		{"HyperOS zip, encrypted", miuigen.Options{Compressed: true, Password: "s3cret", Seed: 7}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			src := root
			if c.zip {
				src = filepath.Join(root, "backup.zip")
				fh, err := os.Create(src)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.WriteZip(fh, c.opt); err != nil {
					t.Fatal(err)
				}
				fh.Close()
			} else if _, err := f.WriteFolder(root, c.opt); err != nil {
				t.Fatal(err)
			}
			exportertest.Run(t, exportertest.Harness{
				New:  func(t *testing.T) exporters.Exporter { return newArchive(t, src, c.opt.Password) },
				Want: &want,
			})
		})
	}
}

func TestMIUIBackupBodiesAreByteExact(t *testing.T) {
	f := miuigen.New(3, 15)
	root := t.TempDir()
	if _, err := f.WriteFolder(root, miuigen.Options{Compressed: true, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snap")
	w, _ := snapshot.Create(dir, snapshot.Options{})
	if err := newArchive(t, root, "").Export(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, _ := snapshot.Open(dir)
	got := map[string]int{}
	for m, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == "sms" {
			got[m.Body]++
		}
	}
	tricky := 0
	for _, s := range f.SMS {
		if got[s.Body] == 0 {
			t.Errorf("SMS body %q missing or altered in messages.jsonl", s.Body)
		}
		if strings.Contains(s.Body, ", ") || strings.Contains(s.Body, "\n") {
			tricky++
		}
	}
	if tricky == 0 {
		t.Error("the fixture has no body with \", \" or a newline; the test proves little")
	}
	xml, _ := os.ReadFile(filepath.Join(dir, snapshot.SMSXMLPath))
	if !strings.Contains(string(xml), "&#10;") {
		t.Error("newlines in bodies are not written as &#10; in the B&R XML")
	}
}

func TestEncryptedBackupNeedsThePassword(t *testing.T) {
	f := miuigen.New(5, 3)
	root := t.TempDir()
	if _, err := f.WriteFolder(root, miuigen.Options{Compressed: true, Password: "right", Seed: 5}); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "wrong"} {
		_, err := newArchive(t, root, pw).Inventory(context.Background())
		if !errors.Is(err, miui.ErrPassword) || !strings.Contains(err.Error(), "--password") || !strings.Contains(err.Error(), ".bak") {
			t.Errorf("password %q: %v", pw, err)
		}
	}
}
