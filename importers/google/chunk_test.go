package google

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/transport"
)

// A chunk is its file's descriptor under net/http's length limit (so it
// can go out through sendfile), yet it must be exactly bytes
// [off, off+n): net/http reads on after the limit to check that the body
// ends, and a chunk that ran on to the end of the file was refused as
// longer than its Content-Length.
func TestAChunkIsExactlyItsRange(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	if err := os.WriteFile(filepath.Join(dir, "v.mp4"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		mu.Lock()
		got[r.Header.Get("Content-Range")] = b
		mu.Unlock()
		w.Header().Set("X-Http-Status-Code-Override", "308")
		w.Header().Set("Range", "bytes=0-0")
	}))
	defer srv.Close()
	im := &Importer{hc: &http.Client{Transport: transport.ForWorkers(2)}}
	snap := snapshot.Folder(dir)
	size := int64(len(data))
	ranges := [][2]int64{{0, 1 << 20}, {1 << 20, 2 << 20}, {3 << 20, size - 3<<20}, {size - 1, 1}}
	for _, rg := range ranges {
		if _, err := im.sendChunk(context.Background(), srv.URL, snap, "v.mp4", rg[0], rg[1], size); err != nil {
			t.Fatalf("chunk at %d of %d bytes: %v", rg[0], rg[1], err)
		}
	}
	for _, rg := range ranges {
		cr := fmt.Sprintf("bytes %d-%d/%d", rg[0], rg[0]+rg[1]-1, size)
		if b := got[cr]; !bytes.Equal(b, data[rg[0]:rg[0]+rg[1]]) {
			t.Errorf("%s: the server got %d bytes, not the file's %d at %d", cr, len(b), rg[1], rg[0])
		}
	}
}

// Reads of a section keep to its end wherever the file's position was
// moved (sendfile moves it without a Read).
func TestASectionEndsWhereItsChunkDoes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	s := &section{f: f, end: 12}
	defer s.Close()
	if _, err := f.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	if n, err := s.Read(b); n != 3 || err != nil || string(b) != "456" {
		t.Fatalf("first read: %d %v %q", n, err, b[:n])
	}
	if _, err := f.Seek(10, io.SeekStart); err != nil { // as sendfile would
		t.Fatal(err)
	}
	rest, err := io.ReadAll(s)
	if err != nil || string(rest) != "ab" {
		t.Fatalf("after the position moved: %q, %v; want \"ab\"", rest, err)
	}
}
