package micloud

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/micloudtest"
)

// BenchmarkExportGallery exports 200 photos of 256 KiB from the fake, with
// 4 downloads at once and no pacing: the cost of miexit's own side.
func BenchmarkExportGallery(b *testing.B) {
	srv := micloudtest.New(photos(200, 256<<10), micloudtest.Options{})
	defer srv.Close()
	b.SetBytes(200 * 256 << 10)
	for b.Loop() {
		cfg := testConfig(srv)
		cfg.PageSize = 100
		e, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		runExport(b, e, filepath.Join(b.TempDir(), "snap"))
	}
	b.ReportMetric(float64(srv.Requests())/float64(b.N), "requests/op")
}

// BenchmarkExportGalleryJobs exports 200 photos of 64 KiB from a fake that
// takes 50 ms to answer each request (a round trip to a far data centre;
// three requests per photo), without the exporter's pacing, at 1, 4 and 8
// downloads at once (--jobs). Run it with -benchtime 1x: one op at 1 job
// takes about 30 s.
func BenchmarkExportGalleryJobs(b *testing.B) {
	benchJobs(b, photos(200, 64<<10), 100, "download")
}

// benchJobs exports d at 1, 4 and 8 jobs from a fake at 50 ms a request,
// reporting the requests per export (and the count of endpoint, if any).
func benchJobs(b *testing.B, d micloudtest.Data, pageSize int, endpoint string) {
	for _, jobs := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("jobs=%d", jobs), func(b *testing.B) {
			srv := micloudtest.New(d, micloudtest.Options{Latency: 50 * time.Millisecond})
			defer srv.Close()
			for b.Loop() {
				cfg := testConfig(srv)
				cfg.PageSize = pageSize
				cfg.Concurrency = jobs
				e, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				runExport(b, e, filepath.Join(b.TempDir(), "snap"))
			}
			b.ReportMetric(float64(srv.Requests())/float64(b.N), "requests/op")
			if endpoint != "" {
				b.ReportMetric(float64(srv.Count(endpoint))/float64(b.N), endpoint+"s/op")
			}
		})
	}
}

// BenchmarkExportNotesJobs exports 100 notes with one 2 KiB image each
// (two requests a note: the text, the image) from the fake at 50 ms a
// request, without pacing, at 1, 4 and 8 fetches at once.
func BenchmarkExportNotesJobs(b *testing.B) {
	var d micloudtest.Data
	for i := range 100 {
		img := micloudtest.NoteImage{FileID: fmt.Sprintf("1.img%03d", i), MIME: "image/jpeg", Data: micloudtest.Bytes("jpg", uint64(i), 2<<10)}
		d.Notes = append(d.Notes, micloudtest.Note{ID: int64(100 + i), Title: fmt.Sprintf("Note %d", i), Created: micloudtest.Base, Modified: micloudtest.Base + int64(i),
			Content: "text ☺ " + img.FileID + "<0/></>", Images: []micloudtest.NoteImage{img}})
	}
	benchJobs(b, d, 200, "")
}
