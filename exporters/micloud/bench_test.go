package micloud

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/miexit/miexit/internal/micloudtest"
)

// BenchmarkExportGallery exports 200 photos of 256 KiB from the fake, with
// 4 downloads at once and no pacing: the cost of miexit's own side.
func BenchmarkExportGallery(b *testing.B) {
	d := micloudtest.Data{Albums: []micloudtest.Album{{ID: 1}}}
	for i := range 200 {
		d.Photos = append(d.Photos, micloudtest.Photo{ID: int64(i + 1), AlbumID: 1, FileName: fmt.Sprintf("IMG_%04d.jpg", i),
			Type: "image", MIME: "image/jpeg", Data: micloudtest.Bytes("jpg", uint64(i), 256<<10), DateTaken: micloudtest.Base + int64(i)*1000})
	}
	srv := micloudtest.New(d, micloudtest.Options{})
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
