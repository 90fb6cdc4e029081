package dir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// listOnly is the importer without its Looker side: verify then holds
// the whole listing, as it does for any other destination.
type listOnly struct{ *Importer }

func (l listOnly) Lookup() {} // hides Importer.Lookup: not an importers.Looker

// Verify finds by lookups (flat memory) exactly what it finds by holding
// the listing: in a folder with a file missing, one changed with its size
// and mtime put back, extras, a folder swapped for a symlink to its copy,
// a file swapped for a symlink, a FIFO and a temp file, both checks (full
// and written) give the same rows and problems.
func TestLookupsFindWhatTheListingFinds(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "dest")
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "snap"), "s")
	state := t.TempDir()
	led, err := ledger.Open(filepath.Join(state, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(importers.Params{Arg: root, Concurrency: 2})
	if err := d.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	led.Close()
	if _, ok := any(listOnly{d}).(importers.Looker); ok {
		t.Fatal("listOnly is still a Looker: the test would compare lookups with lookups")
	}

	var media []string
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindMedia {
			media = append(media, e.Path)
		}
	}
	if len(media) < 5 {
		t.Fatalf("the test snapshot has %d media files, want 5 or more", len(media))
	}
	at := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(at(media[0])))
	// Changed, size and mtime put back: only a full check sees it.
	st, err := os.Stat(at(media[1]))
	must(err)
	b, err := os.ReadFile(at(media[1]))
	must(err)
	b[0] ^= 0xff
	must(os.WriteFile(at(media[1]), b, 0o644))
	must(os.Chtimes(at(media[1]), st.ModTime(), st.ModTime()))
	// A folder swapped for a symlink to its copy, a file for a symlink to
	// its copy: List's walk follows neither.
	dir := filepath.Dir(at(media[2]))
	must(os.Rename(dir, dir+".copy"))
	must(os.Symlink(filepath.Base(dir)+".copy", dir))
	must(os.Rename(at(media[3]), at(media[3])+".real"))
	must(os.Symlink(filepath.Base(media[3])+".real", at(media[3])))
	must(os.Remove(at(media[4])))
	must(syscall.Mkfifo(at(media[4]), 0o644))
	must(os.WriteFile(filepath.Join(root, "media", "extra.jpg"), []byte("not in the snapshot"), 0o644))
	must(os.WriteFile(filepath.Join(root, "notes-by-hand.txt"), []byte("mine"), 0o644))
	must(os.WriteFile(filepath.Join(root, "media", ".miexit-tmp-1"), []byte("debris"), 0o644))

	// Each check gets its own copy of the ledger: a check forgets the
	// records of what it finds wrong.
	ledgerCopy := func(name string) *ledger.Ledger {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(state, "ledger.db"))
		must(err)
		p := filepath.Join(state, name)
		must(os.WriteFile(p, b, 0o600))
		l, err := ledger.Open(p)
		must(err)
		t.Cleanup(func() { l.Close() })
		return l
	}
	summary := func(res verify.Result) string {
		ps := make([]string, len(res.Problems))
		for i, p := range res.Problems {
			ps[i] = fmt.Sprintf("%s %s %s %s", p.Problem, p.Kind, p.Path, p.Key)
		}
		slices.Sort(ps)
		return fmt.Sprintf("ok=%v rows=%+v problems=%q", res.OK, res.Rows, ps)
	}
	for _, written := range []bool{false, true} {
		run := func(imp importers.Importer, name string) verify.Result {
			t.Helper()
			led := ledgerCopy(fmt.Sprintf("%s-%v.db", name, written))
			var res verify.Result
			var err error
			if written {
				res, err = verify.RunWritten(ctx, snap, imp, led)
			} else {
				res, err = verify.Run(ctx, snap, imp, led)
			}
			must(err)
			return res
		}
		byLookup, byListing := run(d, "lookup"), run(listOnly{d}, "listing")
		if summary(byLookup) != summary(byListing) {
			t.Errorf("written=%v:\nby lookups: %s\nby listing: %s", written, summary(byLookup), summary(byListing))
		}
		// The test only means something if the mess was seen.
		want := 5
		if written {
			want = 4 // the change with size and mtime put back is trusted
		}
		if len(byListing.Problems) < want {
			t.Errorf("written=%v: %d problems, want at least %d: %s", written, len(byListing.Problems), want, summary(byListing))
		}
		extra := 0
		for _, r := range byListing.Rows {
			extra += r.Extra
		}
		if extra < 4 {
			t.Errorf("written=%v: %d extras, want at least 4 (extra.jpg, notes-by-hand.txt, the .real file, the .copy folder's): %s", written, extra, summary(byListing))
		}
	}
}
