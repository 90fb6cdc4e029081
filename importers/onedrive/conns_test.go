package onedrive

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
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
	w, err := snapshot.Create(filepath.Join(t.TempDir(), "snap"), snapshot.Options{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range photos {
		b := []byte(strings.Repeat("photo ", 100) + strconv.Itoa(i))
		if err := w.AddMedia(ctx, mapping.Media{Path: "DCIM/IMG_" + strconv.Itoa(i) + ".jpg", Size: int64(len(b))}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Open(w.Dir())
	if err != nil {
		t.Fatal(err)
	}
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
