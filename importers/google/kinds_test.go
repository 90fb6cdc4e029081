package google

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// ListKinds reads Drive once for every whole-file kind (one loadTree, as
// List of one kind does) and gives what List gives kind by kind; verify
// then finds a complete import complete.
func TestListKindsReadsDriveOnceForEveryKind(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 0) })
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	im := e.importer(t)
	kinds := []mapping.Kind{mapping.KindNote, mapping.KindMedia, mapping.KindFile}
	byKind := map[string]mapping.Remote{}
	var oneKind int // files.list calls of the List of one kind
	for _, k := range kinds {
		before := e.srv.Count(googletest.EPFilesList)
		for id, r := range remotes(t, im, k) {
			byKind[string(k)+" "+id] = r
		}
		oneKind = e.srv.Count(googletest.EPFilesList) - before
	}
	before := e.srv.Count(googletest.EPFilesList)
	together := map[string]mapping.Remote{}
	for r, err := range im.ListKinds(ctx, kinds, nil) {
		if err != nil {
			t.Fatal(err)
		}
		together[string(r.Kind)+" "+r.Path] = r
	}
	if n := e.srv.Count(googletest.EPFilesList) - before; n != oneKind {
		t.Errorf("ListKinds of %d kinds made %d files.list calls, List of one kind %d", len(kinds), n, oneKind)
	}
	if !maps.Equal(together, byKind) {
		t.Errorf("ListKinds gave %v\nList kind by kind %v", slices.Sorted(maps.Keys(together)), slices.Sorted(maps.Keys(byKind)))
	}
	if len(byKind) < 5 {
		t.Fatalf("Drive lists %d files of %v, want the note, 3 media and the documents", len(byKind), kinds)
	}
	res, err := verify.Run(ctx, e.snap, e.importer(t), e.led)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Errorf("verify of a complete import: %+v", res)
	}
}
