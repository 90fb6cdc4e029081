package archive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/snapshot"
)

// BenchmarkExportMedia exports a generated folder of N small photos and
// reports the peak heap in use, to show memory stays flat as N grows:
//
//	go test -run '^$' -bench ExportMedia -benchtime 1x ./exporters/archive/
func BenchmarkExportMedia(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			src := b.TempDir()
			photo := make([]byte, 8<<10)
			copy(photo, []byte{0xFF, 0xD8, 0xFF, 0xE0})
			for i := 0; i < n; i++ {
				p := filepath.Join(src, "DCIM", fmt.Sprintf("album%03d", i/500), fmt.Sprintf("IMG_%06d.jpg", i))
				if i%500 == 0 {
					os.MkdirAll(filepath.Dir(p), 0o755)
				}
				photo[100] = byte(i)
				photo[101] = byte(i >> 8)
				if err := os.WriteFile(p, photo, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			var peak atomic.Uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dst := filepath.Join(b.TempDir(), "snap")
				e, _ := New(exporters.Params{Arg: src})
				w, err := snapshot.Create(dst, snapshot.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Export(context.Background(), w); err != nil {
					b.Fatal(err)
				}
				if err := w.Commit(context.Background()); err != nil {
					b.Fatal(err)
				}
				if got := w.Counts().Media; got != n {
					b.Fatalf("exported %d media, want %d", got, n)
				}
			}
			b.StopTimer()
			close(stop)
			<-done
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
