package fsutil

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jpg")
	if err := os.WriteFile(p, []byte("photo bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	if err != nil || string(got) != "photo bytes" {
		t.Fatalf("read %q, %v", got, err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != 11 || f.Name() != p {
		t.Errorf("Stat = %v, %v; Name %q", st, err, f.Name())
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("wrote to a closed, read-only file")
	}

	missing := filepath.Join(dir, "gone.jpg")
	_, err = Open(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(missing) = %v, want a not-exist error naming the file", err)
	}
	if f, err := Open(dir); err == nil {
		// A folder opens for reading, as with os.Open; reading it fails.
		if _, err := f.Read(make([]byte, 1)); err == nil {
			t.Error("read a folder")
		}
		f.Close()
	}
}
