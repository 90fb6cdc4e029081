package fsutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPendingFilesAppearWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "sub", "a.jpg")

	p, err := Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("first"))
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("the file is visible before Commit: %v", err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "first" {
		t.Fatalf("committed %q", b)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 as CreateTemp's", st.Mode().Perm())
	}

	// A replacement takes the name atomically.
	p, err = Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("second"))
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "second" {
		t.Fatalf("replaced with %q", b)
	}

	// Aborted, or never committed (a crash): nothing is left.
	p, _ = Create(filepath.Join(dir, "sub", "b.jpg"))
	p.Write([]byte("half"))
	p.Abort()
	q, _ := Create(filepath.Join(dir, "sub", "c.jpg"))
	q.Write([]byte("half"))
	q.File.Close() // as a killed process's descriptors are
	ents, _ := os.ReadDir(filepath.Join(dir, "sub"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if q.hidden && len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}
	if !q.hidden {
		t.Logf("no O_TMPFILE here: temp files are named (%v)", names)
	}
}

// TestPendingModTime: the time set on the open file is the committed
// file's, to the nanosecond, in a folder Create had to make.
func TestPendingModTime(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "new", "deeper", "a.jpg")
	when := time.Date(2023, 2, 3, 9, 0, 0, 123456789, time.UTC)
	p, err := Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("photo"))
	if err := p.SetModTime(when); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(when) || st.Size() != 5 {
		t.Errorf("committed file: mtime %v, size %d; want %v, 5", st.ModTime(), st.Size(), when)
	}
}
