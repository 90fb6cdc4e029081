package fsutil

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cached counts the pages of f in the page cache.
func cached(t *testing.T, f *os.File, size int) int {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (size+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// A file read once to be copied or checked leaves the page cache when let
// go, so a migrate of a library recycles those pages for the copies it
// writes instead of taking new memory for each. The file still reads the
// same afterwards.
func TestALetGoFileLeavesThePageCache(t *testing.T) {
	p := filepath.Join(t.TempDir(), "photo.jpg")
	const size = 4 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Written pages are dirty until written back, and only clean pages
	// can be dropped.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
	pages := size / os.Getpagesize()
	before := cached(t, f, size)
	if before < pages/2 {
		t.Skipf("only %d of %d pages cached right after reading: this file system does not cache", before, pages)
	}
	LetGo(f)
	if after := cached(t, f, size); after > pages/8 {
		t.Fatalf("%d of %d pages still cached after LetGo (%d before)", after, pages, before)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != string(data) {
		t.Fatalf("the file reads differently after LetGo (%v)", err)
	}
}
