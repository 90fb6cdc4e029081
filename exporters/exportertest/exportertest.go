// Package exportertest is the conformance suite every exporter passes: the
// behaviour all sources share, written once.
package exportertest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// Harness describes the exporter under test.
type Harness struct {
	// New returns a fresh exporter over the same, unchanged source.
	New func(t *testing.T) exporters.Exporter
	// Want, when set, is exactly what the source holds.
	Want *mapping.Counts
}

// Run checks that Inventory matches Export, that exporting twice into one
// snapshot re-reads no unchanged media and gives the same manifest, and
// that two fresh snapshots of one source are identical.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ctx := context.Background()

	inv, err := h.New(t).Inventory(ctx)
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	if h.Want != nil && inv != *h.Want {
		t.Errorf("inventory = %+v, want %+v", inv, *h.Want)
	}

	dirA := filepath.Join(t.TempDir(), "a")
	first := export(t, h.New(t), dirA, nil)
	if first != inv {
		t.Errorf("export counts %+v differ from inventory %+v", first, inv)
	}
	entriesA := entries(t, dirA)
	if n := countKind(entriesA, mapping.KindMedia); n != inv.Media {
		t.Errorf("manifest holds %d media, inventory said %d", n, inv.Media)
	}

	t.Run("re-export reads no unchanged media", func(t *testing.T) {
		tally := &progress.Tally{}
		again := export(t, h.New(t), dirA, tally)
		if again != first {
			t.Errorf("second export counts %+v, first %+v", again, first)
		}
		if n := tally.Count("export", mapping.KindMedia, progress.Copied); n != 0 {
			t.Errorf("second export copied %d media again; want 0", n)
		}
		if n := tally.Count("export", mapping.KindMedia, progress.Unchanged); n != inv.Media {
			t.Errorf("second export kept %d media unchanged; want %d", n, inv.Media)
		}
		if d := diff(entriesA, entries(t, dirA)); d != "" {
			t.Errorf("manifest changed on re-export:\n%s", d)
		}
	})

	t.Run("two fresh snapshots are identical", func(t *testing.T) {
		dirB := filepath.Join(t.TempDir(), "b")
		export(t, h.New(t), dirB, nil)
		if d := diff(entriesA, entries(t, dirB)); d != "" {
			t.Errorf("snapshots of one source differ:\n%s", d)
		}
	})

	t.Run("every manifest entry is in the snapshot", func(t *testing.T) {
		r, err := snapshot.Open(dirA)
		if err != nil {
			t.Fatal(err)
		}
		for e, err := range r.Files() {
			if err != nil {
				t.Fatal(err)
			}
			p, _ := r.Path(e.Path)
			sum, n, err := snapshot.HashFile(p)
			if err != nil || sum != e.SHA256 || n != e.Size {
				t.Errorf("%s: on disk %s (%d bytes, err %v), manifest %s (%d bytes)", e.Path, sum, n, err, e.SHA256, e.Size)
			}
		}
	})
}

func export(t *testing.T, ex exporters.Exporter, dir string, rep progress.Reporter) mapping.Counts {
	t.Helper()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test", Progress: rep})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Export(context.Background(), w); err != nil {
		w.Abort()
		t.Fatalf("export: %v", err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return w.Counts()
}

// fingerprint is what must match between two exports of one source: the
// dates of the documents miexit writes itself are left out.
func fingerprint(e mapping.Entry) string {
	s := fmt.Sprintf("%s|%s|%s|%d|%s|%s|%s", e.Kind, e.Key, e.Path, e.Size, e.SHA256, e.Taken.UTC(), e.MIME)
	if e.Kind == mapping.KindMedia {
		s += "|" + e.Modified.UTC().String()
	}
	return s
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fingerprint(e))
	}
	slices.Sort(out)
	return out
}

func countKind(fps []string, k mapping.Kind) int {
	n := 0
	for _, f := range fps {
		if len(f) > len(k) && f[:len(k)+1] == string(k)+"|" {
			n++
		}
	}
	return n
}

func diff(a, b []string) string {
	var out string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out += "  only first:  " + x + "\n"
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out += "  only second: " + x + "\n"
		}
	}
	return out
}
