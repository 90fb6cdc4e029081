package archive

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// sideSource writes an archive folder whose record documents sit between
// its photo folders in the walk's order, one contact in two vCard files.
func sideSource(t *testing.T, extra map[string]string) string {
	t.Helper()
	src := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(src, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		write(fmt.Sprintf("%c/IMG_%03d.jpg", 'A'+2*(i%3), i), fmt.Sprintf("\xff\xd8\xff\xe0photo %d %s", i, make([]byte, i*300)))
	}
	card := func(n int) string {
		return fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %d\r\nTEL:+4930%06d\r\nEND:VCARD\r\n", n, n)
	}
	var cards, more, msgs, calls string
	for i := range 30 {
		cards += card(i)
		msgs += fmt.Sprintf(`{"type":"sms","box":1,"address":"+4930%06d","body":"message %d","date":"2024-05-01T10:%02d:00Z","read":true}`+"\n", i%7, i, i%60)
		calls += fmt.Sprintf(`{"number":"+4930%06d","date":"2024-05-02T10:%02d:00Z","duration":%d,"type":1}`+"\n", i, i%60, i)
	}
	for i := 25; i < 35; i++ {
		more += card(i) // 25-29 are in both files: the first read keeps them
	}
	write("B/contacts.vcf", cards)
	write("B/messages.jsonl", msgs)
	write("D/calls.jsonl", calls)
	write("D/more.vcf", more)
	for rel, body := range extra {
		write(rel, body)
	}
	return src
}

type exported struct {
	entries []mapping.Entry
	docs    map[string][32]byte
}

// exportWith exports the archive folder src into a new snapshot and
// reads back its manifest and the digests of its record documents.
func exportWith(t *testing.T, src string, opt snapshot.Options) exported {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "snap")
	e, err := New(exporters.Params{Arg: src})
	if err != nil {
		t.Fatal(err)
	}
	w, err := snapshot.Create(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Export(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := exported{docs: map[string][32]byte{}}
	for en, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		out.entries = append(out.entries, en)
	}
	for _, rel := range []string{snapshot.ContactsPath, snapshot.MessagesPath, snapshot.CallsPath, snapshot.SMSXMLPath, snapshot.CallsXMLPath} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out.docs[rel] = sha256.Sum256(b)
	}
	return out
}

func sameExport(t *testing.T, what string, got, want exported) {
	t.Helper()
	if len(got.entries) != len(want.entries) {
		t.Fatalf("%s: %d entries, the sequential export %d", what, len(got.entries), len(want.entries))
	}
	for i := range want.entries {
		a, b := got.entries[i], want.entries[i]
		if a.Kind != b.Kind || a.Key != b.Key || a.Path != b.Path || a.SHA256 != b.SHA256 || a.Size != b.Size {
			t.Fatalf("%s: entry %d is %s %s, the sequential export's %s %s", what, i, a.Kind, a.Key, b.Kind, b.Key)
		}
	}
	for rel, sum := range want.docs {
		if got.docs[rel] != sum {
			t.Fatalf("%s: %s differs from the sequential export's", what, rel)
		}
	}
}

// Reading the contacts and messages beside the photos must write the
// snapshot a sequential export writes: the same manifest, entry for entry
// in the same order, and the same documents, byte for byte (the contact
// in both vCard files kept from the first).
func TestSideDocumentsKeepTheSequentialManifest(t *testing.T) {
	for name, extra := range map[string]map[string]string{
		"records only": nil,
		// An SMS Backup & Restore file adds messages outside a record
		// document: the side lane stands aside.
		"with a B&R file": {"C/sms.xml": `<?xml version="1.0"?><smses count="1"><sms address="+1555" date="1714557600000" type="1" body="from xml" read="1"/></smses>`},
	} {
		t.Run(name, func(t *testing.T) {
			src := sideSource(t, extra)
			sequentialDocs = true
			want := exportWith(t, src, snapshot.Options{})
			sequentialDocs = false
			if c := want.entries; len(c) < 40+35+30+30 {
				t.Fatalf("the sequential export has only %d entries", len(c))
			}
			kinds := map[mapping.Kind]int{}
			for _, e := range want.entries {
				kinds[e.Kind]++
			}
			if kinds[mapping.KindContact] != 35 || kinds[mapping.KindCall] != 30 || kinds[mapping.KindMedia] != 40 {
				t.Fatalf("the sequential export holds %v", kinds)
			}
			for i := range 3 {
				sameExport(t, fmt.Sprintf("run %d", i+1), exportWith(t, src, snapshot.Options{LinkLocal: i == 1}), want)
			}
		})
	}
}

// The side lane reads the contacts while the photos are still being
// added: the export waits at its first photo until a contact has been
// added, which a sequential export (contacts after every photo) never
// does.
func TestSideDocumentsAreReadWhileThePhotosAre(t *testing.T) {
	src := sideSource(t, nil)
	contact := make(chan struct{})
	var once sync.Once
	rep := progress.Func(func(e progress.Event) {
		if e.Kind == mapping.KindContact && e.Action == progress.Copied {
			once.Do(func() { close(contact) })
		}
	})
	waited := false
	added := func(e mapping.Entry) {
		if waited {
			return
		}
		waited = true
		select {
		case <-contact:
		case <-time.After(20 * time.Second):
			t.Errorf("no contact was added while the export waited at %s", e.Path)
		}
	}
	got := exportWith(t, src, snapshot.Options{Progress: rep, MediaAdded: added})
	if !waited || len(got.entries) == 0 {
		t.Fatal("no photo was exported")
	}
}
