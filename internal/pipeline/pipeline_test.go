package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/miexit/miexit/exporters/archive"
	_ "github.com/miexit/miexit/importers/dir"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/snapshot"
)

// phone copies the sample into a folder the test may change.
func phone(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "phone")
	if err := os.CopyFS(p, os.DirFS("../../testdata/sample")); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAnUnchangedSourceReusesItsSnapshot(t *testing.T) {
	ctx := context.Background()
	src := phone(t)
	tmp := t.TempDir()
	o := pipeline.Options{StateDir: filepath.Join(tmp, "state")}
	dst := "dir:" + filepath.Join(tmp, "dest")
	migrate := func(what string) pipeline.MigrateResult {
		t.Helper()
		res, err := pipeline.Migrate(ctx, "archive:"+src, dst, "", o)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !res.Verify.OK {
			t.Fatalf("%s: verify found gaps: %+v", what, res.Verify.Problems)
		}
		return res
	}
	first := migrate("first run")
	if first.Export.Reused {
		t.Fatal("a first export reused a snapshot")
	}
	again := migrate("unchanged re-run")
	if !again.Export.Reused || again.Export.Counts != first.Export.Counts {
		t.Fatalf("unchanged re-run: reused %v, counts %+v (first %+v)", again.Export.Reused, again.Export.Counts, first.Export.Counts)
	}

	// A file touched: exported again.
	p := filepath.Join(src, "messages.jsonl")
	later := time.Now().Add(time.Hour)
	os.Chtimes(p, later, later)
	if res := migrate("after a touch"); res.Export.Reused {
		t.Fatal("a changed source reused its snapshot")
	}
	if res := migrate("unchanged again"); !res.Export.Reused {
		t.Fatal("the re-export did not record the new state")
	}

	// A file added: exported again, and counted.
	os.WriteFile(filepath.Join(src, "DCIM", "Camera", "IMG_20250101_000000.jpg"), []byte("\xff\xd8\xff\xe0 a new photo"), 0o644)
	res := migrate("after a new photo")
	if res.Export.Reused || res.Export.Counts.Media != first.Export.Counts.Media+1 {
		t.Fatalf("new photo: reused %v, media %d (was %d)", res.Export.Reused, res.Export.Counts.Media, first.Export.Counts.Media)
	}

	// A snapshot file removed by hand: never reused as it is; the export
	// puts it back.
	var victim string
	snap, err := snapshot.Open(res.Export.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		victim = filepath.Join(res.Export.Dir, filepath.FromSlash(e.Path))
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if res := migrate("after pruning the snapshot"); res.Export.Reused {
		t.Fatal("a snapshot missing a file was reused")
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("the pruned file was not put back: %v", err)
	}
}

func TestExportAloneNeverLinksTheSource(t *testing.T) {
	ctx := context.Background()
	src := phone(t)
	snapDir := filepath.Join(t.TempDir(), "snap")
	if _, err := pipeline.Export(ctx, "archive:"+src, snapDir, pipeline.Options{StateDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(src, "DCIM", "Camera", "IMG_20240501_101500.jpg"))
	b, err := os.Stat(filepath.Join(snapDir, "media", "DCIM", "Camera", "IMG_20240501_101500.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(a, b) {
		t.Fatal("miexit export linked the source: its snapshot would not be a copy")
	}
}

func TestMigrateLinksALocalFolder(t *testing.T) {
	ctx := context.Background()
	src := phone(t)
	tmp := t.TempDir()
	res, err := pipeline.Migrate(ctx, "archive:"+src, "dir:"+filepath.Join(tmp, "dest"), "", pipeline.Options{StateDir: filepath.Join(tmp, "state")})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(src, "DCIM", "Camera", "IMG_20240501_101500.jpg"))
	b, _ := os.Stat(filepath.Join(res.Export.Dir, "media", "DCIM", "Camera", "IMG_20240501_101500.jpg"))
	c, err := os.Stat(filepath.Join(tmp, "dest", "media", "DCIM", "Camera", "IMG_20240501_101500.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Error("migrate copied a local photo into its snapshot instead of linking it")
	}
	if os.SameFile(a, c) {
		t.Error("the destination shares the source's file: it must be a copy")
	}
}
