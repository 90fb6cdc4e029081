package onedrive

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
)

// The importer the destination string opens keeps one connection a
// worker: http.DefaultTransport keeps two idle a host, so with four
// workers two were closed and opened again around every upload.
func TestEveryWorkerKeepsItsConnection(t *testing.T) {
	e := newEnv(t)
	t.Setenv(EnvEndpoint, e.fake.Endpoint())
	t.Setenv(EnvToken, e.fake.Token())
	ctx := context.Background()
	const workers, photos = 4, 200
	snap := importertest.Photos(t, filepath.Join(t.TempDir(), "snap"), photos)
	im, err := importers.Open(ctx, "onedrive:/Backups", importers.Params{SourceName: "test", Concurrency: workers})
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Import(ctx, snap, openLedger(t), nil); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Conns(); n > workers+2 {
		t.Errorf("%d photos by %d workers took %d connections, want at most %d", photos, workers, n, workers+2)
	}
}
