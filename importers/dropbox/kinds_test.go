package dropbox

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// ListKinds gives, in one listing of the folder, what List gives kind by
// kind, and verify reads the folder once for all the whole-file kinds
// (notes, media, attachments) instead of once for each, in both of its
// modes, finding the same.
func TestVerifyListsTheFolderOnceForEveryWholeFileKind(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	led := openLedger(t)
	ctx := context.Background()
	im := f.importer()
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	kinds := []mapping.Kind{mapping.KindNote, mapping.KindMedia, mapping.KindFile}
	byKind := map[string]mapping.Remote{}
	for _, k := range kinds {
		for r, err := range im.List(ctx, k) {
			if err != nil {
				t.Fatal(err)
			}
			byKind[string(k)+" "+r.Path] = r
		}
	}
	lists := f.srv.Count(dropboxtest.RouteList)
	together := map[string]mapping.Remote{}
	for r, err := range im.ListKinds(ctx, kinds, nil) {
		if err != nil {
			t.Fatal(err)
		}
		together[string(r.Kind)+" "+r.Path] = r
	}
	if n := f.srv.Count(dropboxtest.RouteList) - lists; n != 1 {
		t.Errorf("ListKinds listed the folder %d times, want 1", n)
	}
	if !maps.Equal(together, byKind) {
		t.Errorf("ListKinds gave %v\nList kind by kind %v", slices.Sorted(maps.Keys(together)), slices.Sorted(maps.Keys(byKind)))
	}
	if len(byKind) < 5 {
		t.Fatalf("the folder lists %d files of %v, want the sample's note, 3 media and an attachment at least", len(byKind), kinds)
	}

	for name, check := range map[string]func() (verify.Result, error){
		"written": func() (verify.Result, error) { return verify.RunWritten(ctx, snap, f.importer(), led) },
		"full":    func() (verify.Result, error) { return verify.Run(ctx, snap, f.importer(), led) },
	} {
		lists := f.srv.Count(dropboxtest.RouteList)
		res, err := check()
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK {
			t.Errorf("%s check of a complete import: %+v", name, res)
		}
		if n := f.srv.Count(dropboxtest.RouteList) - lists; n != 1 {
			t.Errorf("%s check listed the folder %d times, want 1", name, n)
		}
		for _, row := range res.Rows {
			if slices.Contains(kinds, row.Kind) && (row.Destination != row.Source || row.Source == 0) {
				t.Errorf("%s check, %s: %d at the destination, %d in the snapshot", name, row.Kind, row.Destination, row.Source)
			}
		}
	}
}

// A snapshot of photos alone has no contacts, messages or calls, and the
// folder holds no document of them: the final check finds that from its
// one listing and downloads nothing. Once the folder holds a messages
// document the snapshot lacks, it is read, and its messages are extra.
func TestTheFinalCheckReadsNoDocumentThatIsNotThere(t *testing.T) {
	f := newFixture(t)
	snap := buildSnapshot(t, nil, nil)
	ctx := context.Background()
	photos := importertest.Photos(t, t.TempDir(), 2)
	led := openLedger(t)
	if err := f.importer().Import(ctx, photos, led, nil); err != nil {
		t.Fatal(err)
	}
	res, err := verify.RunWritten(ctx, photos, f.importer(), led)
	if err != nil || !res.OK {
		t.Fatalf("final check of a complete import: %+v, %v", res, err)
	}
	if n := f.srv.Count(dropboxtest.RouteDownload); n != 0 {
		t.Errorf("the final check of a snapshot of photos downloaded %d documents, want none", n)
	}

	// Another snapshot's documents land in the same folder.
	if err := f.importer().Import(ctx, snap, openLedger(t), nil); err != nil {
		t.Fatal(err)
	}
	res, err = verify.RunWritten(ctx, photos, f.importer(), led)
	if err != nil {
		t.Fatal(err)
	}
	if f.srv.Count(dropboxtest.RouteDownload) == 0 {
		t.Error("the folder holds documents now, and the final check read none of them")
	}
	for _, row := range res.Rows {
		if row.Kind == mapping.KindMessage && row.Extra != 1 {
			t.Errorf("messages: %+v, want the other snapshot's one message extra", row)
		}
	}
}
