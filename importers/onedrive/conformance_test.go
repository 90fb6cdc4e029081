package onedrive

import (
	"strings"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/mapping"
)

func TestConformance(t *testing.T) {
	e := newEnv(t)
	var im *Importer
	remote := func(t *testing.T, r mapping.Remote) string {
		t.Helper()
		// The fake's path of the item List reported, names decoded.
		const dir = "/Apps/miexit/sample/"
		for _, f := range e.fake.Files() {
			if rel, ok := strings.CutPrefix(f.Path, dir); ok && decodePath(rel) == r.Path {
				return f.Path
			}
		}
		t.Fatalf("%s is not in the fake", r.Path)
		return ""
	}
	importertest.Run(t, importertest.Harness{
		New: func(t *testing.T) importers.Importer {
			im = e.importer(t, "")
			return im
		},
		Writes: e.fake.Writes,
		Delete: func(t *testing.T, r mapping.Remote) {
			if !e.fake.Remove(remote(t, r)) {
				t.Fatalf("delete %s: not in the fake", r.Path)
			}
		},
		Corrupt: func(t *testing.T, r mapping.Remote) {
			if !e.fake.Corrupt(remote(t, r)) {
				t.Fatalf("corrupt %s: not in the fake", r.Path)
			}
		},
		Empty:         func(t *testing.T) { e.fake.Empty() },
		SwitchAccount: func(t *testing.T) { e.fake.SwitchAccount("another-account-0002") },
	})
	t.Logf("conformance requests: %v (total %d, writes %d)", e.fake.Counts(), e.fake.Count(""), e.fake.Writes())
}
