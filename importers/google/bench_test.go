package google

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// BenchmarkImport measures a first import into an empty fake account:
// 1000 contacts, 32 photos of 1 MiB (multipart) and one 24 MiB video
// (miexit's resumable upload, 8 MiB chunks).
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	w, err := snapshot.Create(filepath.Join(dir, "snap"), snapshot.Options{Source: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 1000 {
		c := card(fmt.Sprintf("Person %04d", i), fmt.Sprintf("+86 139 %04d 0000", i), "")
		w.AddContact(ctx, mapping.Contact{Key: fmt.Sprintf("b%04d", i), Card: c})
	}
	var total int64
	add := func(p string, n int) {
		data := bytes.Repeat([]byte{byte(n)}, n)
		total += int64(n)
		w.AddMedia(ctx, mapping.Media{Path: p, Size: int64(n), ModTime: time.Unix(1e9, 0)}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		})
	}
	for i := range 32 {
		add(fmt.Sprintf("DCIM/IMG_%02d.jpg", i), 1<<20+i)
	}
	add("DCIM/VID.mp4", 24<<20)
	if err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	snap, err := snapshot.Open(filepath.Join(dir, "snap"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		srv := googletest.New()
		led, err := ledger.Open(filepath.Join(dir, fmt.Sprintf("l%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token}))
		im, err := NewWith(ctx, Options{Params: paramsBench(), Endpoint: srv.URL, HTTPClient: hc, Retry: noSleep})
		if err != nil {
			b.Fatal(err)
		}
		if err := im.Import(ctx, snap, led, progress.Discard); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(srv.Count(googletest.EPBatchCreate)), "batchCreate/op")
		b.ReportMetric(float64(srv.Count(googletest.EPUploadChunk)), "chunks/op")
		led.Close()
		srv.Close()
	}
}

func paramsBench() (p importers.Params) { p.SourceName = "bench"; p.Concurrency = 4; return }
