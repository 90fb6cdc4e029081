package dir

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/mapping"
)

func TestConformance(t *testing.T) {
	root := filepath.Join(t.TempDir(), "dest")
	var writes atomic.Int64
	var live []*Importer
	importertest.Run(t, importertest.Harness{
		New: func(t *testing.T) importers.Importer {
			d, err := New(importers.Params{Arg: root, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, d)
			return d
		},
		Writes: func() int {
			n := writes.Load()
			for _, d := range live {
				n += d.Writes()
			}
			return int(n)
		},
		Delete: func(t *testing.T, r mapping.Remote) {
			if err := os.Remove(filepath.Join(root, filepath.FromSlash(r.Path))); err != nil {
				t.Fatal(err)
			}
		},
		Corrupt: func(t *testing.T, r mapping.Remote) {
			p := filepath.Join(root, filepath.FromSlash(r.Path))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, 'x')
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		Empty: func(t *testing.T) {
			des, err := os.ReadDir(root)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			for _, de := range des {
				if err := os.RemoveAll(filepath.Join(root, de.Name())); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
}

// A run killed between creating a temp file and renaming it leaves debris;
// the next import removes it.
func TestImportSweepsTempFilesOfAKilledRun(t *testing.T) {
	root := filepath.Join(t.TempDir(), "dest")
	debris := filepath.Join(root, "media", "DCIM", ".miexit-tmp-12345")
	if err := os.MkdirAll(filepath.Dir(debris), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(debris, []byte("half a photo"), 0o644)
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "snap"), "s")
	d, _ := New(importers.Params{Arg: root, Concurrency: 2})
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	if err := d.Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(debris); !os.IsNotExist(err) {
		t.Fatalf("temp file of a killed run still there: %v", err)
	}
}

func TestTheManifestCopyIsCheckedWithoutReadingItAndRestoredWhenGone(t *testing.T) {
	root := filepath.Join(t.TempDir(), "dest")
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "snap"), "s")
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	ctx := context.Background()
	imp := func() *Importer {
		d, _ := New(importers.Params{Arg: root, Concurrency: 2})
		if err := d.Import(ctx, snap, led, nil); err != nil {
			t.Fatal(err)
		}
		return d
	}
	imp()
	if d := imp(); d.Writes() != 0 {
		t.Fatalf("an unchanged re-run wrote %d files", d.Writes())
	}
	mp := filepath.Join(root, "manifest.json")
	want, _ := os.ReadFile(mp)
	// Replaced by something else with a new mtime: put back.
	os.WriteFile(mp, []byte("{}"), 0o644)
	if d := imp(); d.Writes() != 1 {
		t.Fatalf("a changed manifest copy: %d writes, want 1", d.Writes())
	}
	if got, _ := os.ReadFile(mp); string(got) != string(want) {
		t.Fatal("the manifest copy was not restored")
	}
	os.Remove(mp)
	imp()
	if got, _ := os.ReadFile(mp); string(got) != string(want) {
		t.Fatal("a deleted manifest copy was not restored")
	}
}
