package onedrive

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// mediaSnapshot is a snapshot of media alone, added in the order given
// (path, bytes, path, bytes, ...).
func mediaSnapshot(t *testing.T, pathsAndData ...string) *snapshot.Reader {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test:media"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(pathsAndData); i += 2 {
		data := []byte(pathsAndData[i+1])
		m := mapping.Media{Path: pathsAndData[i], Size: int64(len(data)), ModTime: base}
		if err := w.AddMedia(ctx, m, func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A stream names files as Import does wherever a name is known, and
// Import keeps the names a stream gave: a photo named by an earlier run
// keeps its name when a new photo differing only in case comes first,
// and the Import after the stream uploads nothing again.
func TestStreamAndImportKeepEachOthersNames(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	led := openLedger(t)
	first := mediaSnapshot(t, "DCIM/IMG_1.JPG", "upper")
	if err := e.importer(t, "").Import(ctx, first, led, nil); err != nil {
		t.Fatal(err)
	}
	second := mediaSnapshot(t, "DCIM/IMG_1.JPG", "upper", "DCIM/img_1.jpg", "lower, new", "DCIM/new.jpg", "new")
	var media []mapping.Entry
	for en, err := range second.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if en.Kind != mapping.KindMedia {
			continue
		}
		if strings.HasSuffix(en.Path, "/img_1.jpg") {
			media = append([]mapping.Entry{en}, media...) // the new one first
		} else {
			media = append(media, en)
		}
	}
	im := e.importer(t, "")
	var streamed progress.Tally
	sink, err := im.StreamFiles(ctx, snapshot.Folder(second.Dir()), led, &streamed)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range media {
		if err := sink.ImportFile(ctx, en); err != nil {
			t.Fatalf("ImportFile(%s): %v", en.Path, err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if c, u := streamed.Count("import", mapping.KindMedia, progress.Copied), streamed.Count("import", mapping.KindMedia, progress.Unchanged); c != 2 || u != 1 {
		t.Errorf("the stream copied %d and found %d, want 2 and 1", c, u)
	}
	var after progress.Tally
	if err := im.Import(ctx, second, led, &after); err != nil {
		t.Fatal(err)
	}
	if n := after.Count("import", mapping.KindMedia, progress.Copied); n != 0 {
		t.Errorf("the import after the stream copied %d photos again", n)
	}
	root := "/Apps/miexit/sample/media/DCIM/"
	if f, ok := e.fake.File(root + "IMG_1.JPG"); !ok || string(f.Data) != "upper" {
		t.Errorf("IMG_1.JPG lost its name or its bytes: %v %q", ok, f.Data)
	}
	n := 0
	for _, f := range e.fake.Files() {
		if strings.HasPrefix(f.Path, root) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("OneDrive holds %d photos, want 3: %v", n, e.fake.Files())
	}
}

// Two new photos whose names differ only in case, the lower-case one
// first: the stream names them in that order, and the Import after it
// keeps those names instead of sorting them anew (which would upload
// both again under swapped names).
func TestImportKeepsTheNamesAStreamGave(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	led := openLedger(t)
	snap := mediaSnapshot(t, "DCIM/IMG_1.JPG", "upper", "DCIM/img_1.jpg", "lower")
	var media []mapping.Entry
	for en, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if en.Kind != mapping.KindMedia {
			continue
		}
		if strings.HasSuffix(en.Path, "/img_1.jpg") {
			media = append([]mapping.Entry{en}, media...) // the lower-case one first
		} else {
			media = append(media, en)
		}
	}
	if len(media) != 2 {
		t.Fatalf("media %v", media)
	}
	im := e.importer(t, "")
	sink, err := im.StreamFiles(ctx, snapshot.Folder(snap.Dir()), led, progress.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range media {
		if err := sink.ImportFile(ctx, en); err != nil {
			t.Fatal(err)
		}
	}
	sink.Close()
	before := e.fake.Writes()
	var after progress.Tally
	if err := im.Import(ctx, snap, led, &after); err != nil {
		t.Fatal(err)
	}
	if n := after.Count("import", mapping.KindMedia, progress.Unchanged); n != 2 {
		t.Errorf("the import found %d of the 2 streamed photos done", n)
	}
	if n := after.Count("import", mapping.KindMedia, progress.Copied); n != 0 || e.fake.Writes()-before > 3 {
		t.Errorf("the import copied %d photos again (%d writes)", n, e.fake.Writes()-before)
	}
	n := 0
	for _, f := range e.fake.Files() {
		if strings.HasPrefix(f.Path, "/Apps/miexit/sample/media/") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("OneDrive holds %d photos, want 2", n)
	}
}
