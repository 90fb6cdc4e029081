package dropbox

import (
	"context"
	"testing"
)

// BenchmarkImportSmallFiles measures a first import of a few hundred small
// files into an empty fake (sessions + finish_batch_v2); see ns/file.
func BenchmarkImportSmallFiles(b *testing.B) {
	snap, total := smallFiles(b, 300)
	for b.Loop() {
		b.StopTimer()
		im := newFixture(b).importer()
		led := openLedger(b)
		b.StartTimer()
		if err := im.Import(context.Background(), snap, led, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/file")
}
