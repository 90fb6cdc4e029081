package dropbox

import (
	"context"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
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
