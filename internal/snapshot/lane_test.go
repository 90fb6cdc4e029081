package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/mapping"
)

// A lane's entries land where it was placed, whatever the order its
// records were added in; a lane never placed fails the commit and leaves
// the previous manifest.
func TestLanesAreSplicedWhereTheyWerePlaced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string) {
		if _, err := w.AddFile(ctx, AttachmentsDir+"/"+name, strings.NewReader(name), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := w.Lane()
	if err != nil {
		t.Fatal(err)
	}
	second, err := w.Lane()
	if err != nil {
		t.Fatal(err)
	}
	atStart, err := w.Lane()
	if err != nil {
		t.Fatal(err)
	}
	atStart.Place()
	call := func(l *Lane, n int) {
		if err := l.AddCall(ctx, mapping.Call{Number: fmt.Sprint(n), Date: time.Unix(int64(n), 0).UTC(), Type: 1}); err != nil {
			t.Fatal(err)
		}
	}
	call(second, 3) // added before the first lane's records and placed after them
	file("a")
	call(first, 1)
	first.Place()
	file("b")
	call(first, 2) // after its Place: still in its place
	second.Place()
	call(atStart, 0)
	file("c")
	r := committed(t, w, dir)
	var got []string
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindFile && !strings.HasPrefix(e.Path, AttachmentsDir) {
			continue // the documents, last
		}
		got = append(got, e.Key)
	}
	var calls []string
	for c, err := range r.Calls() {
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c.Number)
	}
	keyOf := func(n int) string {
		return mapping.CallKey(&mapping.Call{Number: fmt.Sprint(n), Date: time.Unix(int64(n), 0).UTC(), Type: 1})
	}
	want := []string{keyOf(0), AttachmentsDir + "/a", keyOf(1), keyOf(2), AttachmentsDir + "/b", keyOf(3), AttachmentsDir + "/c"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("manifest order\n %v\nwant\n %v", got, want)
	}
	// The document holds the records in the order they were added.
	if strings.Join(calls, " ") != "3 1 2 0" {
		t.Fatalf("calls.jsonl holds %v", calls)
	}

	w, err = Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lost, err := w.Lane()
	if err != nil {
		t.Fatal(err)
	}
	call(lost, 9)
	if err := w.Commit(ctx); err == nil || !strings.Contains(err.Error(), "never placed") {
		t.Fatalf("commit with a lane never placed: %v", err)
	}
	if r, err := Open(dir); err != nil || r.Counts().Calls != 4 {
		t.Fatalf("the previous manifest after a failed commit: %v, %+v", err, r.Counts())
	}
}

// Intact checks every file, whichever batch it falls in: one file gone,
// replaced by another size or given another time fails it.
func TestIntactFindsAnyFileChanged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	const n = 150
	for i := range n {
		if _, err := w.AddFile(ctx, fmt.Sprintf("%s/f%03d.bin", AttachmentsDir, i), strings.NewReader(fmt.Sprint(i)), mod); err != nil {
			t.Fatal(err)
		}
	}
	r := committed(t, w, dir)
	if ok, err := r.Intact(); !ok || err != nil {
		t.Fatalf("Intact() = %v, %v on a whole snapshot", ok, err)
	}
	for _, i := range []int{0, 63, 64, 100, n - 1} {
		p := filepath.Join(dir, AttachmentsDir, fmt.Sprintf("f%03d.bin", i))
		for what, change := range map[string]func() error{
			"gone":       func() error { return os.Rename(p, p+".away") },
			"resized":    func() error { return os.WriteFile(p, []byte("longer than before"), 0o644) },
			"other time": func() error { return os.Chtimes(p, mod.Add(time.Hour), mod.Add(time.Hour)) },
		} {
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := change(); err != nil {
				t.Fatal(err)
			}
			if ok, err := r.Intact(); ok || err != nil {
				t.Errorf("file %d %s: Intact() = %v, %v", i, what, ok, err)
			}
			os.Remove(p + ".away")
			if err := os.WriteFile(p, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mod, mod); err != nil {
				t.Fatal(err)
			}
			if ok, err := r.Intact(); !ok || err != nil {
				t.Fatalf("file %d put back: Intact() = %v, %v", i, ok, err)
			}
		}
	}
}

// committed commits w and opens the snapshot it wrote in dir.
func committed(t *testing.T, w *Writer, dir string) *Reader {
	t.Helper()
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
