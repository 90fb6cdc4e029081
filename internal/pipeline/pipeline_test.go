package pipeline_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/miexit/miexit/exporters/archive"
	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/dir"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
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

// countingDir is the folder importer, counting its Imports.
type countingDir struct {
	*dir.Importer
}

var dirImports atomic.Int32

func (c countingDir) Import(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	dirImports.Add(1)
	return c.Importer.Import(ctx, snap, led, rep)
}

func init() {
	importers.Register("countdir", func(ctx context.Context, p importers.Params) (importers.Importer, error) {
		d, err := dir.New(p)
		return countingDir{d}, err
	})
}

// TestAnUnchangedRerunChecksBeforeItImports: when the source and the
// snapshot are unchanged and the folder's last import of that snapshot
// ran to its end, the final check alone looks at the folder; what it finds
// missing or changed is imported as a re-run's import would have, and the
// report counts every file as the import would have.
func TestAnUnchangedRerunChecksBeforeItImports(t *testing.T) {
	ctx := context.Background()
	src := phone(t)
	tmp := t.TempDir()
	destDir := filepath.Join(tmp, "dest")
	migrate := func(what string, wantImports int32) (pipeline.MigrateResult, *progress.Tally) {
		t.Helper()
		tally := &progress.Tally{}
		before := dirImports.Load()
		res, err := pipeline.Migrate(ctx, "archive:"+src, "countdir:"+destDir, "", pipeline.Options{StateDir: filepath.Join(tmp, "state"), Progress: tally})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !res.Verify.OK || res.Verify.Repaired != 0 {
			t.Fatalf("%s: verify OK %v, repaired %d: %+v", what, res.Verify.OK, res.Verify.Repaired, res.Verify.Problems)
		}
		if got := dirImports.Load() - before; got != wantImports {
			t.Fatalf("%s: %d imports, want %d", what, got, wantImports)
		}
		return res, tally
	}
	first, firstTally := migrate("first run", 1)
	files := firstTally.Count("import", "", progress.Copied) + firstTally.Count("import", "", progress.Unchanged)
	snap, err := snapshot.Open(first.Export.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var photo, doc string
	n := 0
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		switch {
		case e.Kind == mapping.KindMedia && photo == "":
			photo = e.Path
		case e.Kind == mapping.KindFile && doc == "":
			doc = e.Path
		}
	}
	if files != n || photo == "" || doc == "" {
		t.Fatalf("first import reported %d files of %d; photo %q, doc %q", files, n, photo, doc)
	}

	res, tally := migrate("unchanged re-run", 0)
	if !res.Export.Reused || tally.Count("import", "", progress.Unchanged) != n || tally.Count("import", "", progress.Copied) != 0 {
		t.Fatalf("unchanged re-run: reused %v, import unchanged %d copied %d, want %d and 0",
			res.Export.Reused, tally.Count("import", "", progress.Unchanged), tally.Count("import", "", progress.Copied), n)
	}

	// Changed behind miexit's back: a photo deleted, a document rewritten.
	// The check finds both, the import puts both back and keeps the
	// rewritten one aside, and the final check then finds nothing to repair.
	want, _ := os.ReadFile(filepath.Join(destDir, filepath.FromSlash(doc)))
	os.Remove(filepath.Join(destDir, filepath.FromSlash(photo)))
	os.WriteFile(filepath.Join(destDir, filepath.FromSlash(doc)), []byte("edited by hand"), 0o644)
	res, tally = migrate("after changes at the destination", 1)
	if !res.Export.Reused || tally.Count("import", "", progress.Copied) != 2 || tally.Count("import", "", progress.Unchanged) != n-2 {
		t.Fatalf("after changes: reused %v, import copied %d unchanged %d, want 2 and %d",
			res.Export.Reused, tally.Count("import", "", progress.Copied), tally.Count("import", "", progress.Unchanged), n-2)
	}
	if _, err := os.Stat(filepath.Join(destDir, filepath.FromSlash(photo))); err != nil {
		t.Errorf("the deleted photo is not back: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(destDir, filepath.FromSlash(doc))); string(got) != string(want) {
		t.Errorf("the rewritten document was not put back: %q", got)
	}
	kept, _ := filepath.Glob(filepath.Join(destDir, filepath.FromSlash(path.Dir(doc)), "*miexit-kept*"))
	if len(kept) != 1 {
		t.Errorf("the hand-edited document was not kept aside: %v", kept)
	}

	// The folder's manifest copy gone: not finished, so imported (and the
	// manifest put back) before the check.
	os.Remove(filepath.Join(destDir, snapshot.ManifestPath))
	migrate("without the manifest copy", 1)
	if _, err := os.Stat(filepath.Join(destDir, snapshot.ManifestPath)); err != nil {
		t.Errorf("the manifest copy is not back: %v", err)
	}
	migrate("unchanged once more", 0)
}

// An unchanged re-run reports each file of the snapshot unchanged, in the
// manifest's order, whether it kept what its check saw or had too many
// files to keep and read the manifest again.
func TestAnUnchangedRerunReportsEveryFileOnce(t *testing.T) {
	ctx := context.Background()
	src := phone(t)
	tmp := t.TempDir()
	migrate := func(what string) ([]progress.Event, pipeline.MigrateResult) {
		t.Helper()
		var mu sync.Mutex
		var evs []progress.Event
		rec := progress.Func(func(e progress.Event) {
			if e.Phase == "import" {
				mu.Lock()
				evs = append(evs, e)
				mu.Unlock()
			}
		})
		res, err := pipeline.Migrate(ctx, "archive:"+src, "dir:"+filepath.Join(tmp, "dest"), "", pipeline.Options{StateDir: filepath.Join(tmp, "state"), Progress: rec})
		if err != nil || !res.Verify.OK {
			t.Fatalf("%s: %v, verify OK %v", what, err, res.Verify.OK)
		}
		return evs, res
	}
	_, first := migrate("first run")
	snap, err := snapshot.Open(first.Export.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []progress.Event
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: progress.Unchanged, Bytes: e.Size})
	}
	if len(want) < 3 {
		t.Fatalf("the sample snapshot has %d files", len(want))
	}
	kept, res := migrate("unchanged re-run")
	if !res.Export.Reused {
		t.Fatal("the re-run did not reuse the snapshot")
	}
	old := pipeline.SetSeenFilesBytes(0)
	defer pipeline.SetSeenFilesBytes(old)
	reread, _ := migrate("unchanged re-run, nothing kept")
	if !slices.Equal(kept, want) {
		t.Errorf("re-run reported %d events, want the snapshot's %d files unchanged in order:\n%v\nwant\n%v", len(kept), len(want), kept, want)
	}
	if !slices.Equal(reread, want) {
		t.Errorf("re-run with nothing kept reported %d events, want %d: %v", len(reread), len(want), reread)
	}
}
