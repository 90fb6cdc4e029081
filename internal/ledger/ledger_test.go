package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPutFlushReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state", "ledger.db")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Put("dir:/a", "media/x.jpg", Record{SHA256: "abc", Size: 3}); err != nil {
		t.Fatal(err)
	}
	if r, ok, _ := l.Get("dir:/a", "media/x.jpg"); !ok || r.SHA256 != "abc" {
		t.Fatalf("buffered record not visible: %v %v", r, ok)
	}
	if _, ok, _ := l.Get("dir:/b", "media/x.jpg"); ok {
		t.Fatal("destinations share records")
	}
	l.Put("dir:/a", "gone", Record{SHA256: "x"})
	l.Delete("dir:/a", "gone")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ledger file mode %v (%v), want 0600", st.Mode(), err)
	}
	l, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if r, ok, _ := l.Get("dir:/a", "media/x.jpg"); !ok || r.Size != 3 {
		t.Fatalf("record lost across reopen: %v %v", r, ok)
	}
	if _, ok, _ := l.Get("dir:/a", "gone"); ok {
		t.Fatal("deleted record came back")
	}
	if n, _ := l.Len("dir:/a"); n != 1 {
		t.Fatalf("Len = %d", n)
	}
}

func TestSecondOpenIsRefusedClearly(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Open(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestBatchesFlushByThemselves(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ledger.db")
	l, _ := Open(p)
	for i := 0; i < flushEvery+1; i++ {
		l.Put("d", string(rune('a'+i%26))+string(rune(i)), Record{Size: int64(i)})
	}
	l.mu.Lock()
	pending := len(l.pending)
	l.mu.Unlock()
	if pending > flushEvery {
		t.Fatalf("%d writes pending, more than a batch", pending)
	}
	l.Close()
}

func TestEachGivesOneDestinationsRecordsUnderAPrefix(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, k := range []string{"media/b.jpg", "media/a.jpg", "mediaX", "notes/n.md"} {
		l.Put("d1", k, Record{SHA256: k})
	}
	l.Put("d2", "media/c.jpg", Record{SHA256: "other"})
	l.Put("d1", "media/gone.jpg", Record{SHA256: "x"})
	l.Delete("d1", "media/gone.jpg") // still pending: Each must see it gone
	var got []string
	err = l.Each("d1", "media/", func(k string, r Record) error {
		if r.SHA256 != k {
			t.Errorf("%s: record %+v", k, r)
		}
		got = append(got, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "media/a.jpg media/b.jpg"; strings.Join(got, " ") != want {
		t.Errorf("Each = %v, want %s", got, want)
	}
	stop := errors.New("stop")
	if err := l.Each("d1", "", func(string, Record) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error = %v", err)
	}
}
