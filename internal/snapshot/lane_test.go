package snapshot

import (
	"context"
	"fmt"
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
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
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
