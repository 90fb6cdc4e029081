package archive

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/exporters/exportertest"
	"github.com/miexit/miexit/internal/sample"
)

func TestConformanceFolder(t *testing.T) {
	dir := t.TempDir()
	if err := sample.Generate(dir); err != nil {
		t.Fatal(err)
	}
	want := sample.Expected
	exportertest.Run(t, exportertest.Harness{
		New: func(t *testing.T) exporters.Exporter {
			e, err := New(exporters.Params{Arg: dir})
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
		Want: &want,
	})
}

func TestConformanceZip(t *testing.T) {
	zp := filepath.Join(t.TempDir(), "download.zip")
	writeSampleZip(t, zp)
	want := sample.Expected
	exportertest.Run(t, exportertest.Harness{
		New: func(t *testing.T) exporters.Exporter {
			e, err := New(exporters.Params{Arg: zp})
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
		Want: &want,
	})
}

func writeSampleZip(t *testing.T, zp string) {
	t.Helper()
	files, err := sample.Files()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(zp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, sf := range files {
		w, err := zw.Create(sf.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(sf.Data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
