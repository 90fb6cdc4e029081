package sample

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed sample must be exactly what the generator writes, so it
// can always be rebuilt and never drifts into hand-edited data.
func TestCommittedSampleIsGenerated(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..", "testdata", "sample")
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Name)))
		if err != nil {
			t.Fatalf("%v (run: go run ./internal/sample/gensample testdata/sample)", err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("testdata/sample/%s differs from the generator's output; regenerate it", f.Name)
		}
	}
	n := 0
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if n != len(files) {
		t.Errorf("testdata/sample has %d files, the generator writes %d", n, len(files))
	}
}
