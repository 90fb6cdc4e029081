//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A FIFO where a file was expected is an error at once: HashFile never
// waits for a writer that will not come (a verify would hang forever).
func TestHashFileRefusesAFIFOWithoutWaiting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "photo.jpg")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := HashFile(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), p) {
			t.Fatalf("HashFile(FIFO) = %v, want an error naming it", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the goroutine so the test ends.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("HashFile waited on a FIFO")
	}
	// A regular file still hashes.
	q := filepath.Join(t.TempDir(), "f")
	os.WriteFile(q, []byte("abc"), 0o644)
	if sum, n, err := HashFile(q); err != nil || n != 3 || sum != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashFile(regular) = %s %d %v", sum, n, err)
	}
}
