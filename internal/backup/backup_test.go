package backup

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/miexit/miexit/exporters/archive"
	_ "github.com/miexit/miexit/importers/dir"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/sample"
	"github.com/miexit/miexit/internal/statedir"
	"github.com/miexit/miexit/internal/verify"
)

const photo = "media/DCIM/Camera/IMG_20240501_101500.jpg"

type env struct {
	src, root, state string
	now              time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		src:   filepath.Join(t.TempDir(), "sample"),
		root:  filepath.Join(t.TempDir(), "backups"),
		state: filepath.Join(t.TempDir(), "state"),
		now:   time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC),
	}
	t.Setenv("MIEXIT_CONFIG_DIR", filepath.Join(t.TempDir(), "config"))
	if err := sample.Generate(e.src); err != nil {
		t.Fatal(err)
	}
	return e
}

// run makes one backup an hour after the previous one.
func (e *env) run(ctx context.Context, t *testing.T, keep int, rep progress.Reporter) (Result, error) {
	t.Helper()
	e.now = e.now.Add(time.Hour)
	now := e.now
	return Run(ctx, "archive:"+e.src, "dir:"+e.root, Options{
		Options: pipeline.Options{StateDir: e.state, Concurrency: 2, Progress: rep},
		Keep:    keep,
		Now:     func() time.Time { return now },
	})
}

func (e *env) mustRun(t *testing.T, keep int) Result {
	t.Helper()
	res, err := e.run(context.Background(), t, keep, nil)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !res.Complete || !res.Migrate.Verify.OK {
		t.Fatalf("backup not complete: %+v", res)
	}
	// The folder holds the copy and nothing else.
	for _, r := range res.Migrate.Verify.Rows {
		if r.Extra != 0 {
			t.Errorf("%s: %d extra %s items in the backup", res.Dir, r.Extra, r.Kind)
		}
	}
	return res
}

// fileSet lists a backup's files (marker excluded) by relative path.
func fileSet(t *testing.T, dir string) map[string]fs.FileInfo {
	t.Helper()
	out := map[string]fs.FileInfo{}
	err := files(context.Background(), dir, func(rel, _ string, info fs.FileInfo) error {
		out[rel] = info
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSecondBackupLinksUnchangedAndCopiesOnlyTheChange(t *testing.T) {
	e := newEnv(t)
	first := e.mustRun(t, 0)
	if first.Stats.Copied == 0 || first.Stats.Linked != 0 || first.LinkedFrom != "" {
		t.Fatalf("first backup stats %+v linked from %q", first.Stats, first.LinkedFrom)
	}
	oldPhoto, err := os.ReadFile(filepath.Join(first.Dir, photo))
	if err != nil {
		t.Fatal(err)
	}

	// An unchanged source: everything is linked, nothing copied.
	second := e.mustRun(t, 0)
	if second.Stats.Copied != 0 {
		t.Errorf("unchanged source: %d files copied, want 0", second.Stats.Copied)
	}
	firstFiles := fileSet(t, first.Dir)
	if second.Stats.Linked != len(firstFiles) || second.LinkedFrom != filepath.Base(first.Dir) {
		t.Errorf("linked %d files from %q, want %d from %s", second.Stats.Linked, second.LinkedFrom, len(firstFiles), filepath.Base(first.Dir))
	}

	// One photo changes at the source.
	srcPhoto := filepath.Join(e.src, "DCIM", "Camera", "IMG_20240501_101500.jpg")
	changed := append(bytes.Clone(oldPhoto), []byte("edited on the phone")...)
	if err := os.WriteFile(srcPhoto, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	third := e.mustRun(t, 0)
	if third.Stats.Copied != 1 {
		t.Errorf("one changed photo: %d files copied, want 1", third.Stats.Copied)
	}
	if third.Stats.CopiedBytes != int64(len(changed)) {
		t.Errorf("copied %d bytes, want %d", third.Stats.CopiedBytes, len(changed))
	}
	secondFiles := fileSet(t, second.Dir)
	thirdFiles := fileSet(t, third.Dir)
	if len(thirdFiles) != len(secondFiles) {
		t.Errorf("third backup holds %d files, second %d", len(thirdFiles), len(secondFiles))
	}
	for rel, info := range thirdFiles {
		prev, ok := secondFiles[rel]
		same := ok && os.SameFile(prev, info)
		switch rel {
		case photo, "manifest.json":
			if same {
				t.Errorf("%s changed but is still the previous backup's inode", rel)
			}
		default:
			if !same {
				t.Errorf("%s is unchanged but not a hard link to the previous backup", rel)
			}
		}
	}
	if got, _ := os.ReadFile(filepath.Join(third.Dir, photo)); !bytes.Equal(got, changed) {
		t.Error("the new backup does not hold the changed photo")
	}
	for _, dir := range []string{first.Dir, second.Dir} {
		if got, _ := os.ReadFile(filepath.Join(dir, photo)); !bytes.Equal(got, oldPhoto) {
			t.Errorf("%s: the older backup's photo changed", dir)
		}
	}
}

func TestFileGoneFromSourceLeavesOnlyTheNewBackup(t *testing.T) {
	e := newEnv(t)
	first := e.mustRun(t, 0)
	if err := os.Remove(filepath.Join(e.src, "DCIM", "Camera", "IMG_20240501_101500.jpg")); err != nil {
		t.Fatal(err)
	}
	second := e.mustRun(t, 0)
	if second.Stats.Dropped != 1 {
		t.Errorf("dropped %d files, want 1", second.Stats.Dropped)
	}
	if _, err := os.Stat(filepath.Join(second.Dir, photo)); !os.IsNotExist(err) {
		t.Errorf("the photo the source no longer has is still in the new backup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(first.Dir, photo)); err != nil {
		t.Errorf("the older backup lost the photo: %v", err)
	}
}

func TestKeepRemovesOnlyOldestOfOurBackups(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(e.root, 0o755); err != nil {
		t.Fatal(err)
	}
	// Things the user keeps next to the backups: an old dated folder
	// without miexit's marker, and a plain folder.
	foreign := []string{"2020-01-01T000000Z", "holiday photos"}
	for _, f := range foreign {
		if err := os.MkdirAll(filepath.Join(e.root, f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.root, f, "mine.txt"), []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A marker left by a run killed before it made its folder.
	orphan := filepath.Join(e.root, MarkerDir, "2021-01-01T000000Z.json")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte(`{"tool":"miexit-backup","state":"partial"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a := e.mustRun(t, 2)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan marker not swept: %v", err)
	}
	b := e.mustRun(t, 2)
	if len(b.Removed) != 0 {
		t.Fatalf("two backups with --keep 2 removed %v", b.Removed)
	}
	c := e.mustRun(t, 2)
	if !slices.Equal(c.Removed, []string{filepath.Base(a.Dir)}) {
		t.Errorf("removed %v, want only the oldest %s", c.Removed, filepath.Base(a.Dir))
	}
	if want := []string{filepath.Base(c.Dir), filepath.Base(b.Dir)}; !slices.Equal(c.Kept, want) {
		t.Errorf("kept %v, want %v", c.Kept, want)
	}
	if _, err := os.Stat(a.Dir); !os.IsNotExist(err) {
		t.Errorf("oldest backup still there: %v", err)
	}
	for _, f := range foreign {
		if b, err := os.ReadFile(filepath.Join(e.root, f, "mine.txt")); err != nil || string(b) != "keep me" {
			t.Errorf("foreign folder %q touched: %v", f, err)
		}
	}
	// The removed backup's ledger records went with it; the kept ones stay.
	led, err := ledger.Open(statedir.Ledger(e.state))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	if n, _ := led.Len(destName(a.Dir)); n != 0 {
		t.Errorf("%d ledger records left for the removed backup", n)
	}
	if n, _ := led.Len(destName(c.Dir)); n == 0 {
		t.Error("no ledger records for the newest backup")
	}
}

// cancelOnCopy cancels the run after its first file is written to the
// backup, as a Ctrl-C or a shutdown would.
func cancelOnCopy(cancel context.CancelFunc) progress.Reporter {
	var once sync.Once
	return progress.Func(func(ev progress.Event) {
		if ev.Phase == "import" && ev.Action == progress.Copied {
			once.Do(cancel)
		}
	})
}

func TestInterruptedBackupIsNeitherCountedNorLinkedFromAndIsFinishedNext(t *testing.T) {
	e := newEnv(t)
	good := e.mustRun(t, 1)
	// Changed source, so the next run has something to copy.
	if err := os.WriteFile(filepath.Join(e.src, "notes", "Personal", "Shopping list.md"), []byte("- rice\n- tea\n- milk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut, err := e.run(ctx, t, 1, cancelOnCopy(cancel))
	if err == nil || cut.Complete {
		t.Fatalf("interrupted backup: err %v, complete %v", err, cut.Complete)
	}
	found, err := scan(e.root)
	if err != nil {
		t.Fatal(err)
	}
	var complete []string
	for _, f := range found {
		if f.complete() {
			complete = append(complete, f.name)
		}
	}
	if !slices.Equal(complete, []string{filepath.Base(good.Dir)}) {
		t.Fatalf("complete backups after the interruption: %v", complete)
	}

	next := e.mustRun(t, 1)
	if next.Resumed != filepath.Base(cut.Dir) {
		t.Errorf("next run resumed %q, want %q", next.Resumed, filepath.Base(cut.Dir))
	}
	if next.LinkedFrom != filepath.Base(good.Dir) {
		t.Errorf("next run linked from %q, want the last complete backup %q", next.LinkedFrom, filepath.Base(good.Dir))
	}
	for _, p := range []string{cut.Dir, markerPath(cut.Dir)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there under the interrupted run's name: %v", p, err)
		}
	}
	if !slices.Equal(next.Removed, []string{filepath.Base(good.Dir)}) || !slices.Equal(next.Kept, []string{filepath.Base(next.Dir)}) {
		t.Errorf("--keep 1: removed %v, kept %v", next.Removed, next.Kept)
	}
	// What the cut run wrote is not written again.
	if next.Stats.Copied != 0 {
		t.Errorf("resumed run copied %d files; the interrupted one had copied the only change", next.Stats.Copied)
	}
}

func TestVerifyGapKeepsBackupPartialAndRemovesNothing(t *testing.T) {
	e := newEnv(t)
	old := e.mustRun(t, 1)
	if err := os.WriteFile(filepath.Join(e.src, "notes", "Personal", "Shopping list.md"), []byte("- rice\n- tea\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Something deletes the file each time it is written (a full disk
	// clean-up, a sync tool): the final check's one re-import cannot fill
	// the gap, and verify must report it.
	var mu sync.Mutex
	victim := ""
	rep := progress.Func(func(ev progress.Event) {
		if ev.Phase != "import" && ev.Phase != verify.PhaseRepair || ev.Action != progress.Copied {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if victim == "" {
			victim = ev.Item
		}
		if ev.Item == victim {
			found, _ := scan(e.root)
			os.Remove(filepath.Join(found[len(found)-1].path, filepath.FromSlash(ev.Item)))
		}
	})
	res, err := e.run(context.Background(), t, 1, rep)
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete || res.Migrate.Verify.OK {
		t.Fatalf("a backup with a gap counted as complete: %+v", res.Migrate.Verify)
	}
	if res.Migrate.Verify.Repaired != 1 || res.Stats.Copied != 2 {
		t.Errorf("repaired %d, copied %d; want the gap found, imported once more (1, 2)", res.Migrate.Verify.Repaired, res.Stats.Copied)
	}
	if len(res.Removed) != 0 {
		t.Errorf("a backup with a gap removed %v", res.Removed)
	}
	if _, err := os.Stat(old.Dir); err != nil {
		t.Errorf("the last good backup is gone: %v", err)
	}
	m, err := readMarker(res.Dir)
	if err != nil || m.State != statePartial {
		t.Errorf("marker after a gap: %+v, %v", m, err)
	}
	// The next run fills the gap.
	fixed := e.mustRun(t, 1)
	if fixed.Resumed != filepath.Base(res.Dir) || fixed.Stats.Copied != 1 {
		t.Errorf("repair: resumed %q, copied %d", fixed.Resumed, fixed.Stats.Copied)
	}
}

// A file deleted once behind the backup's back, after it was written, is
// found by the final check and copied again in the same run: the backup
// completes.
func TestAGapTheFinalCheckFindsIsRepairedInTheSameRun(t *testing.T) {
	e := newEnv(t)
	e.mustRun(t, 1)
	if err := os.WriteFile(filepath.Join(e.src, "notes", "Personal", "Shopping list.md"), []byte("- rice\n- tea\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	rep := progress.Func(func(ev progress.Event) {
		if ev.Phase == "import" && ev.Action == progress.Copied {
			once.Do(func() {
				found, _ := scan(e.root)
				os.Remove(filepath.Join(found[len(found)-1].path, filepath.FromSlash(ev.Item)))
			})
		}
	})
	res, err := e.run(context.Background(), t, 1, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || !res.Migrate.Verify.OK || res.Migrate.Verify.Repaired != 1 {
		t.Fatalf("complete %v, verify %+v; want the gap repaired in the run", res.Complete, res.Migrate.Verify)
	}
	m, err := readMarker(res.Dir)
	if err != nil || m.State != stateComplete {
		t.Errorf("marker after a repaired gap: %+v, %v", m, err)
	}
}

func TestDestinationMustBeAFolder(t *testing.T) {
	for _, to := range []string{"google", "dir:", "dropbox:/x", "/plain/path"} {
		if _, err := Root(to); err == nil {
			t.Errorf("Root(%q) accepted", to)
		}
	}
}

func TestRunsInTheSameSecondOrWithAClockSetBackGetLaterNames(t *testing.T) {
	e := newEnv(t)
	a := e.mustRun(t, 0)
	e.now = e.now.Add(-time.Hour) // run() adds an hour back: the same second
	b := e.mustRun(t, 0)
	e.now = e.now.Add(-48 * time.Hour)
	c := e.mustRun(t, 0)
	names := []string{filepath.Base(a.Dir), filepath.Base(b.Dir), filepath.Base(c.Dir)}
	if !slices.IsSorted(names) || names[0] == names[1] || names[1] == names[2] {
		t.Errorf("backup names %v are not strictly increasing", names)
	}
	if c.LinkedFrom != names[1] {
		t.Errorf("linked from %q, want the newest %q", c.LinkedFrom, names[1])
	}
}

// Where hard links are refused (another file system, FAT, some network
// shares) the files are copied with their mtime, their ledger records
// follow, and the importer still sees them as its own.
func TestWithoutHardLinksFilesAreCopiedAndStillNotRewritten(t *testing.T) {
	e := newEnv(t)
	first := e.mustRun(t, 0)
	link = func(string, string) error { return &os.LinkError{Op: "link", Err: os.ErrPermission} }
	t.Cleanup(func() { link = os.Link })
	second := e.mustRun(t, 0)
	n := len(fileSet(t, first.Dir))
	if second.Stats.Linked != 0 || second.Stats.LinkCopied != n || second.Stats.Copied != 0 {
		t.Errorf("stats %+v; want %d files copied from the previous backup, none linked, none from the snapshot", second.Stats, n)
	}
	a, b := fileSet(t, first.Dir), fileSet(t, second.Dir)
	for rel, info := range b {
		if os.SameFile(info, a[rel]) || !info.ModTime().Equal(a[rel].ModTime()) || info.Size() != a[rel].Size() {
			t.Errorf("%s: not a separate copy with the same size and mtime", rel)
		}
	}
	led, err := ledger.Open(statedir.Ledger(e.state))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	rec, ok, err := led.Get(destName(second.Dir), photo)
	if err != nil || !ok || !rec.ModTime.Equal(b[photo].ModTime()) {
		t.Errorf("ledger record for the copied photo: %+v %v %v", rec, ok, err)
	}
}

// The linked files' ledger records are carried to the new folder, so the
// importer trusts them without reading them again.
func TestLinkTreeCarriesLedgerRecords(t *testing.T) {
	e := newEnv(t)
	first := e.mustRun(t, 0)
	dst := filepath.Join(e.root, "next")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(statedir.Ledger(e.state))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	var st Stats
	if err := linkTree(context.Background(), led, first.Dir, dst, &st); err != nil {
		t.Fatal(err)
	}
	from, _ := led.Len(destName(first.Dir))
	to, _ := led.Len(destName(dst))
	if from == 0 || to != from {
		t.Errorf("%d records carried of %d", to, from)
	}
}

func TestSecondBackupIntoTheSameFolderAtOnceIsRefused(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(e.root, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockRoot(e.root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.run(context.Background(), t, 0, nil)
	if runtime.GOOS != "windows" && (err == nil || !strings.Contains(err.Error(), "another miexit backup")) {
		t.Errorf("backup while another holds the folder: %v", err)
	}
	unlock()
	e.mustRun(t, 0)
}
