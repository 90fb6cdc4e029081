package google

import (
	"context"
	"testing"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func TestConformance(t *testing.T) {
	srv := googletest.New()
	t.Cleanup(srv.Close)
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token}))
	files := func(t *testing.T, r mapping.Remote) []googletest.FileInfo {
		t.Helper()
		fs := srv.FindFiles("miexit/conformance/" + r.Path)
		if len(fs) == 0 {
			t.Fatalf("no file at %s in the fake", r.Path)
		}
		return fs
	}
	importertest.Run(t, importertest.Harness{
		New: func(t *testing.T) importers.Importer {
			im, err := NewWith(context.Background(), Options{
				Params:     importers.Params{SourceName: "conformance", Concurrency: 4},
				Endpoint:   srv.URL,
				HTTPClient: hc,
				Retry:      noSleep,
				// The suite's 5 MiB video goes through the resumable path.
				ResumableThreshold: 1 << 20,
				ChunkSize:          1 << 20,
			})
			if err != nil {
				t.Fatal(err)
			}
			return im
		},
		Writes: srv.Writes,
		Delete: func(t *testing.T, r mapping.Remote) {
			if !snapshot.WholeFile(r.Kind) {
				p, ok := srv.ContactByClientData(cdKey, r.Key)
				if !ok || !srv.DeleteContact(p.ResourceName) {
					t.Fatalf("no contact %s to delete", r.Key)
				}
				return
			}
			for _, f := range files(t, r) {
				srv.DeleteFile(f.ID)
			}
		},
		Corrupt: func(t *testing.T, r mapping.Remote) {
			for _, f := range files(t, r) {
				b, _ := srv.Content(f.ID)
				srv.SetContent(f.ID, append(b, 'x'))
			}
		},
		Empty:         func(t *testing.T) { srv.Empty() },
		SwitchAccount: func(t *testing.T) { srv.SwitchAccount("another-account-0002") },
	})
	t.Logf("calls: %v", srv.Counts())
}
