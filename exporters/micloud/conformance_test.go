package micloud

import (
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/exporters/exportertest"
	"github.com/miexit/miexit/internal/micloudtest"
)

func TestConformance(t *testing.T) {
	d := micloudtest.Sample(false)
	srv := startFake(t, d, micloudtest.Options{TokenLife: 25})
	want, _ := wantCounts(d)
	exportertest.Run(t, exportertest.Harness{
		New:  func(t *testing.T) exporters.Exporter { return newExporter(t, testConfig(srv)) },
		Want: &want,
	})
	t.Logf("conformance run: %d requests, %d downloads (%s)", srv.Requests(), srv.Downloads(), srv.SortedCounts())
}
