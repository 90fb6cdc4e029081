package dropbox

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// A stream names files as the Import's plan does wherever a name is
// known: a photo that has a name from an earlier run keeps it, and a new
// photo whose name differs from it only in letter case does not take it,
// even when the export adds the new one first. The Import after the
// stream then uploads nothing more, and nothing is kept aside.
func TestStreamKeepsTheNamesEarlierRunsGave(t *testing.T) {
	f := newFixture(t)
	led := openLedger(t)
	ctx := context.Background()
	first := buildSnapshot(t, []sampleFile{{path: "DCIM/IMG_1.JPG", data: "upper"}}, nil)
	if err := f.importer().Import(ctx, first, led, nil); err != nil {
		t.Fatal(err)
	}
	second := buildSnapshot(t, []sampleFile{
		{path: "DCIM/IMG_1.JPG", data: "upper"},
		{path: "DCIM/img_1.jpg", data: "lower, new"},
		{path: "DCIM/new.jpg", data: "new"},
	}, nil)
	var media []mapping.Entry
	for e, err := range second.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindMedia {
			media = append(media, e)
		}
	}
	// The new lower-case photo first: it must still not take the name.
	for i, e := range media {
		if strings.HasSuffix(e.Path, "/img_1.jpg") {
			media[0], media[i] = media[i], media[0]
		}
	}
	im := f.importer()
	streamed := &tally{}
	sink, err := im.StreamFiles(ctx, snapshot.Folder(second.Dir()), led, streamed)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range media {
		if err := sink.ImportFile(ctx, e); err != nil {
			t.Fatalf("ImportFile(%s): %v", e.Path, err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if n := streamed.Count("import", mapping.KindMedia, progress.Copied); n != 2 {
		t.Errorf("the stream copied %d photos, want the 2 new ones", n)
	}
	if n := streamed.Count("import", mapping.KindMedia, progress.Unchanged); n != 1 {
		t.Errorf("the stream found %d photos there, want IMG_1.JPG", n)
	}
	starts := f.srv.Count(dropboxtest.RouteStart)
	rep := &tally{}
	if err := im.Import(ctx, second, led, rep); err != nil {
		t.Fatal(err)
	}
	if n := rep.Count("import", mapping.KindMedia, progress.Copied); n != 0 {
		t.Errorf("the import after the stream copied %d photos again", n)
	}
	if n := f.srv.Count(dropboxtest.RouteStart) - starts; n > 3 {
		t.Errorf("the import after the stream uploaded %d files; only documents were left", n)
	}
	paths := map[string]bool{}
	for _, got := range f.srv.Files() {
		paths[got.Path] = true
		if strings.Contains(got.Path, "kept") {
			t.Errorf("%s was kept aside: a new photo took an old one's name", got.Path)
		}
	}
	if !paths[f.folder+"/media/DCIM/IMG_1.JPG"] {
		t.Errorf("IMG_1.JPG lost its name; Dropbox holds %v", paths)
	}
	if paths[f.folder+"/media/DCIM/img_1.jpg"] {
		t.Errorf("the new img_1.jpg took a name differing from IMG_1.JPG only in case")
	}
}

// migrate's final check trusts the content hashes this importer
// recorded while writing: it reads no snapshot file for a file Dropbox
// still holds as written (shown by changing a snapshot file after the
// import: only a check that reads it sees that), and a file changed or
// removed at Dropbox is still found.
func TestWrittenCheckTrustsWhatItWroteAndFindsWhatChangedThere(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	led := openLedger(t)
	ctx := context.Background()
	if err := f.importer().Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	local := "media/MIUI/sound_recorder/通话录音 😀.mp3"
	p, err := snap.Path(local)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("mp3 bytes, changed here"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := verify.RunWritten(ctx, snap, f.importer(), led)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("the written check read the snapshot again: %+v", res.Problems)
	}
	if full, err := verify.Run(ctx, snap, f.importer(), led); err != nil || full.OK {
		t.Fatalf("the full check did not see the changed snapshot file: %v %+v", err, full)
	}

	gone := "media/DCIM/相机/照片 一.jpg"
	bad := "media/DCIM/Camera/IMG_20210503_080910.jpg"
	f.srv.Remove(f.folder + "/" + gone)
	if err := f.srv.Corrupt(f.folder + "/" + bad); err != nil {
		t.Fatal(err)
	}
	res, err = verify.RunWritten(ctx, snap, f.importer(), led)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, pr := range res.Problems {
		found[pr.Path] = true
	}
	if res.OK || !found[gone] || !found[bad] {
		t.Errorf("the written check found %+v, want %s and %s", res.Problems, gone, bad)
	}
}

// streamMedia hands every media file of snap to a stream on im, as
// migrate does during the export, and closes it.
func streamMedia(t *testing.T, im *Importer, snap *snapshot.Reader, led *ledger.Ledger) *tally {
	t.Helper()
	ctx := context.Background()
	rep := &tally{}
	sink, err := im.StreamFiles(ctx, snapshot.Folder(snap.Dir()), led, rep)
	if err != nil {
		t.Fatal(err)
	}
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindMedia {
			if err := sink.ImportFile(ctx, e); err != nil {
				t.Fatalf("ImportFile(%s): %v", e.Path, err)
			}
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return rep
}

// After a stream that ended cleanly, the Import goes on from the
// stream's own listing and what it committed: it does not list the
// folder again, sends none of the streamed files again, and a file the
// stream kept aside (someone else's at a photo's name) is not kept aside
// twice. The final check, which lists the folder for real, passes.
func TestTheImportAfterACleanStreamDoesNotListAgain(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	led := openLedger(t)
	ctx := context.Background()
	foreign := f.folder + "/media/DCIM/相机/照片 一.jpg"
	if err := f.srv.Put(foreign, []byte("someone else's photo"), modDate); err != nil {
		t.Fatal(err)
	}
	im := f.importer()
	streamed := streamMedia(t, im, snap, led)
	if n := streamed.Count("import", mapping.KindMedia, progress.Copied); n != 3 {
		t.Fatalf("the stream copied %d photos, want 3", n)
	}
	lists, starts := f.srv.Count(dropboxtest.RouteList), f.srv.Count(dropboxtest.RouteStart)
	rep := &tally{}
	if err := im.Import(ctx, snap, led, rep); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Count(dropboxtest.RouteList) - lists; n != 0 {
		t.Errorf("the import after a clean stream listed the folder %d times", n)
	}
	if n := rep.Count("import", mapping.KindMedia, progress.Unchanged); n != 3 {
		t.Errorf("the import after the stream found %d photos in place, want 3", n)
	}
	if n := rep.Count("import", "", progress.Copied); n == 0 || f.srv.Count(dropboxtest.RouteStart)-starts != n {
		t.Errorf("the import after the stream copied %d items in %d uploads, want the documents, each once", n, f.srv.Count(dropboxtest.RouteStart)-starts)
	}
	kept := 0
	for _, got := range f.srv.Files() {
		if strings.Contains(got.Path, "kept by miexit") {
			kept++
		}
	}
	if kept != 1 {
		t.Errorf("%d files kept aside, want the foreign photo once", kept)
	}
	res, err := verify.RunWritten(ctx, snap, f.importer(), led)
	if err != nil || !res.OK {
		t.Fatalf("final check: %+v, %v", res, err)
	}

	// The next Import on the same importer has no stream before it: it
	// lists the folder.
	lists = f.srv.Count(dropboxtest.RouteList)
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if f.srv.Count(dropboxtest.RouteList) == lists {
		t.Error("a second Import trusted a stream that was already used")
	}
}

// After a stream with a failure, what it knows of the folder may be
// short of what Dropbox holds (an answer lost on the way), so the Import
// lists the folder again, and sends what the stream could not.
func TestTheImportAfterAStreamThatFailedListsAgain(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	led := openLedger(t)
	ctx := context.Background()
	im := f.importer()
	f.srv.FailBatchEntries(1, "too_many_shared_folder_targets_but_not_really")
	streamed := streamMedia(t, im, snap, led)
	if n := streamed.Count("import", mapping.KindMedia, progress.Copied); n != 2 {
		t.Fatalf("the stream copied %d photos, want 2 of 3 (one entry refused)", n)
	}
	lists := f.srv.Count(dropboxtest.RouteList)
	rep := &tally{}
	if err := im.Import(ctx, snap, led, rep); err != nil {
		t.Fatal(err)
	}
	if f.srv.Count(dropboxtest.RouteList) == lists {
		t.Error("the import after a stream with a failure did not list the folder")
	}
	if n := rep.Count("import", mapping.KindMedia, progress.Copied); n != 1 {
		t.Errorf("the import after the stream copied %d photos, want the one refused", n)
	}
	if res, err := verify.RunWritten(ctx, snap, f.importer(), led); err != nil || !res.OK {
		t.Fatalf("final check: %+v, %v", res, err)
	}
}
