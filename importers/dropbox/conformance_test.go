package dropbox

import (
	"context"
	"strings"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/mapping"
)

// TestConformance runs the shared importer suite against the fake, with the
// importer built the way the CLI builds it: by scheme, endpoint and token
// from the environment.
func TestConformance(t *testing.T) {
	srv := dropboxtest.New(t, testToken)
	t.Setenv(EnvEndpoint, srv.URL)
	t.Setenv(EnvToken, testToken)
	const folder = "/miexit/conformance"
	// remotePath finds the fake's file for a snapshot path, whatever name
	// mapping the importer applied.
	remotePath := func(t *testing.T, r mapping.Remote) string {
		for _, f := range srv.Files() {
			rel, ok := strings.CutPrefix(f.Path, folder+"/")
			if ok && decodePath(rel) == r.Path {
				return f.Path
			}
		}
		t.Fatalf("no file in the fake for %s", r.Path)
		return ""
	}
	importertest.Run(t, importertest.Harness{
		New: func(t *testing.T) importers.Importer {
			im, err := importers.Open(context.Background(), "dropbox", importers.Params{SourceName: "conformance", ConfigDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if im.Name() != "dropbox:"+folder {
				t.Fatalf("Name() = %q", im.Name())
			}
			return im
		},
		Writes: srv.Writes,
		Delete: func(t *testing.T, r mapping.Remote) {
			if !srv.Remove(remotePath(t, r)) {
				t.Fatalf("delete %s", r.Path)
			}
		},
		Corrupt: func(t *testing.T, r mapping.Remote) {
			if err := srv.Corrupt(remotePath(t, r)); err != nil {
				t.Fatal(err)
			}
		},
		Empty:         func(t *testing.T) { srv.Empty() },
		SwitchAccount: func(t *testing.T) { srv.SwitchAccount("another-account-0002") },
	})
	t.Logf("conformance requests: %v (writes %d)", srv.Counts(), srv.Writes())
}
