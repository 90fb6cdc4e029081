package snapshot

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/miexit/miexit/mapping"
)

func TestManifestNamesTheFirstReducedCopiesAndCountsAll(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, Options{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	never := func(context.Context) (io.ReadCloser, error) {
		t.Fatal("a reduced copy was read")
		return nil, nil
	}
	const n = MaxThumbnailItems + 50
	for i := range n {
		m := mapping.Media{Path: fmt.Sprintf("MIUI/Gallery/cloud/.thumbnailFile/%04d.jpg", i), Size: 10}
		if err := w.AddMedia(context.Background(), m, never); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Counts().Thumbnails; got != n {
		t.Errorf("counted %d reduced copies, want %d", got, n)
	}
	items := r.ThumbnailItems()
	if len(items) != MaxThumbnailItems {
		t.Fatalf("manifest names %d reduced copies, want the first %d", len(items), MaxThumbnailItems)
	}
	if items[0] != "MIUI/Gallery/cloud/.thumbnailFile/0000.jpg" {
		t.Errorf("first named reduced copy %q", items[0])
	}
}
