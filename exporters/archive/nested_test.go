package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/exporters/exportertest"
	"github.com/miexit/miexit/internal/miuigen"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// What people download: a folder holding the phone's HyperOS backup zip and
// a zip of recorder files under their coded names, itself zipped again.
func TestNestedZipsAndRecorderNames(t *testing.T) {
	root := t.TempDir()
	f := miuigen.New(11, 5)
	var hyper bytes.Buffer
	if err := f.WriteZip(&hyper, miuigen.Options{Compressed: true, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "HyperOS backup.zip"), hyper.Bytes(), 0o644)

	mp3 := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte{0xFF, 0xFB, 0x90, 0x64}, 50)...)
	inner := zipOf(t, map[string][]byte{"sound_recorder/Meeting.mp3_1_0_1714521600000_1714521900000": mp3})
	outer := zipOf(t, map[string][]byte{"recordings.zip": inner})
	os.WriteFile(filepath.Join(root, "download.zip"), outer, 0o644)

	want := fixtureCounts(f)
	want.Media = 1
	exportertest.Run(t, exportertest.Harness{
		New:  func(t *testing.T) exporters.Exporter { return newArchive(t, root, "") },
		Want: &want,
	})

	dir := filepath.Join(t.TempDir(), "snap")
	c := export1(t, root, dir)
	if c != want {
		t.Fatalf("counts %+v", c)
	}
	p := filepath.Join(dir, "media", "download", "recordings", "sound_recorder", "Meeting.mp3")
	st, err := os.Stat(p)
	if err != nil || st.ModTime().UnixMilli() != 1714521900000 {
		t.Fatalf("recording not restored to its real name and date: %v %v", st, err)
	}
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for n, d := range files {
		w, _ := zw.Create(n)
		w.Write(d)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func export1(t *testing.T, src, dst string) mapping.Counts {
	t.Helper()
	tally, err := exportInto(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return tally
}

func exportInto(src, dst string) (mapping.Counts, error) {
	e, err := New(exporters.Params{Arg: src})
	if err != nil {
		return mapping.Counts{}, err
	}
	w, err := snapshot.Create(dst, snapshot.Options{})
	if err != nil {
		return mapping.Counts{}, err
	}
	if err := e.Export(context.Background(), w); err != nil {
		w.Abort()
		return mapping.Counts{}, err
	}
	return w.Counts(), w.Commit(context.Background())
}
