package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A migrate's final check reads every record through bbolt's mmap, so the
// file's size is resident memory: pages must not be left half empty.
func TestLedgerFileStaysCloseToItsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw int64
	for i := range 20000 {
		key := fmt.Sprintf("media/DCIM/Camera%03d/IMG_%07d.jpg", i/500, i)
		rec := Record{SHA256: strings.Repeat(fmt.Sprintf("%02x", i%256), 32), Size: 4096, ModTime: time.Unix(int64(1e9+i), 0).UTC()}
		raw += int64(len(key) + len(encode(&rec)))
		if err := l.Put("dir:/backup", key, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file is sparse past bbolt's high-water mark; count the blocks
	// it really uses.
	used := fileBlocks(st)
	t.Logf("%d bytes on disk for %d bytes of records (%.2fx)", used, raw, float64(used)/float64(raw))
	// bbolt's 16-byte header a record is 1.2x of these; pages split half
	// full (or written out of order) made it 1.4x.
	if limit := raw * 13 / 10; used > limit {
		t.Errorf("ledger uses %d bytes for %d bytes of records (%.2fx), want at most 1.3x", used, raw, float64(used)/float64(raw))
	}
}
