// Package backup keeps dated, complete copies of a source in a local folder:
// each run migrates into a new folder that starts as hard links to the
// newest complete backup, so a daily backup costs only what changed, and
// old backups beyond a count are removed once a new one is complete and
// verified.
//
// Layout: PATH/2026-11-25T070059Z/ is one backup, a folder exactly like
// `miexit migrate --to dir:` writes, and PATH/.miexit-backup/<name>.json its
// marker, which says it is miexit's and whether its run finished. Only
// folders with both the dated name and the marker are ever touched. The
// marker sits outside the folder so the folder holds the copy and nothing
// else (verify would count a marker inside as an extra file).
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miexit/miexit/importers"
	dirimp "github.com/miexit/miexit/importers/dir"
	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/statedir"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// MarkerDir, in PATH, holds one marker per backup folder: written before
// the folder is made (state "partial") and replaced, last of all, when the
// backup is complete and verified.
const MarkerDir = ".miexit-backup"

func markerPath(dir string) string {
	return filepath.Join(filepath.Dir(dir), MarkerDir, filepath.Base(dir)+".json")
}

// NameLayout names backup folders: UTC, sortable as text, and free of ':'
// so the name is valid on every file system.
const NameLayout = "2006-01-02T150405Z"

var namePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{6}Z$`)

const (
	statePartial  = "partial"
	stateComplete = "complete"
	stateRemoving = "removing" // being deleted by prune; finished by the next prune
	markerTool    = "miexit-backup"
)

// marker is the content of MarkerName.
type marker struct {
	Tool     string    `json:"tool"`
	State    string    `json:"state"`
	Source   string    `json:"source"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Stats    *Stats    `json:"stats,omitempty"`
}

// Options tune a backup. The embedded pipeline options are passed to
// pipeline.Migrate (state dir, password, concurrency, log, progress).
type Options struct {
	pipeline.Options
	// Keep is how many complete backups to keep, the new one included;
	// 0 keeps all.
	Keep int
	// Now names the new folder; default time.Now.
	Now func() time.Time
}

// Stats say how the new backup was filled.
type Stats struct {
	Linked      int   `json:"linked"`       // files hard-linked from the previous backup
	LinkedBytes int64 `json:"linked_bytes"` // their size (not new disk space)
	// LinkCopied counts files copied from the previous backup because a
	// hard link was refused (another file system, no link support).
	LinkCopied      int   `json:"link_copied"`
	LinkCopiedBytes int64 `json:"link_copied_bytes"`
	Copied          int   `json:"copied"` // files written from the snapshot (new or changed)
	CopiedBytes     int64 `json:"copied_bytes"`
	Unchanged       int   `json:"unchanged"` // files that were already right
	// Dropped counts files carried over from the previous backup that the
	// source no longer has; they stay in the older backups.
	Dropped int `json:"dropped"`
}

// Result says what a backup did.
type Result struct {
	Dir        string                 `json:"backup"`
	Complete   bool                   `json:"complete"`
	Resumed    string                 `json:"resumed,omitempty"`     // the interrupted backup this run finished
	LinkedFrom string                 `json:"linked_from,omitempty"` // the backup unchanged files were linked from
	Stats      Stats                  `json:"stats"`
	Removed    []string               `json:"removed"` // old backups deleted by Keep
	Kept       []string               `json:"kept"`    // complete backups left, newest first
	Migrate    pipeline.MigrateResult `json:"migrate"`
}

// folder is one backup found in PATH.
type folder struct {
	name string
	path string
	m    marker
}

func (f folder) complete() bool { return f.m.State == stateComplete }

// Run backs up src into a new dated folder under the dir: destination to.
// A verify gap is not an error: the result says Complete false and the
// folder stays partial, to be finished by the next run.
func Run(ctx context.Context, src, to string, o Options) (Result, error) {
	res := Result{Removed: []string{}} // [] in JSON, so a script can count it
	root, err := Root(to)
	if err != nil {
		return res, err
	}
	o.Fill()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Keep < 0 {
		return res, fmt.Errorf("%w: --keep %d: want 0 (keep all) or more", mapping.ErrBadInput, o.Keep)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return res, fmt.Errorf("backup %s: %w", root, err)
	}
	unlock, err := lockRoot(root)
	if err != nil {
		return res, err
	}
	defer unlock()
	found, err := scan(root)
	if err != nil {
		return res, err
	}

	name := newName(root, o.Now(), found)
	target := filepath.Join(root, name)
	res.Dir = target
	var resume *folder
	for i := range found {
		if found[i].m.State == statePartial {
			resume = &found[i] // scan sorts oldest first: this ends at the newest
		}
	}
	var source *folder
	for i := range found {
		if found[i].complete() && found[i].name != name {
			source = &found[i]
		}
	}

	led, err := ledger.Open(statedir.Ledger(o.StateDir))
	if err != nil {
		return res, err
	}
	defer func() {
		if led != nil {
			led.Close()
		}
	}()

	// The marker comes first, so a folder under a dated name is always
	// known as ours; a marker left without its folder is swept by prune.
	started := o.Now()
	if err := writeMarker(target, marker{Tool: markerTool, State: statePartial, Source: src, Started: started}); err != nil {
		return res, err
	}
	switch {
	case resume != nil:
		res.Resumed = resume.name
		// The folder takes the name of the run that completes it (newName
		// is always later); its ledger records follow it, so its files
		// stay "ours".
		if err := os.Rename(resume.path, target); err != nil {
			return res, fmt.Errorf("resume %s: %w", resume.path, err)
		}
		if err := os.Remove(markerPath(resume.path)); err != nil {
			return res, fmt.Errorf("resume %s: %w", resume.path, err)
		}
		if err := moveRecords(ctx, led, resume.path, target); err != nil {
			return res, err
		}
		o.Log.Info("resuming an interrupted backup", "was", resume.name, "now", name)
	default:
		if err := os.Mkdir(target, 0o755); err != nil {
			return res, fmt.Errorf("backup %s: %w", target, err)
		}
	}

	if source != nil {
		res.LinkedFrom = source.name
		if err := linkTree(ctx, led, source.path, target, &res.Stats); err != nil {
			return res, err
		}
	}
	// pipeline.Migrate opens the ledger itself, and only one handle may
	// hold it at a time.
	if err := led.Close(); err != nil {
		led = nil
		return res, err
	}
	led = nil

	tally := &progress.Tally{}
	mo := o.Options
	mo.DryRun = false
	mo.Progress = progress.Multi(o.Progress, tally)
	res.Migrate, err = pipeline.Migrate(ctx, src, "dir:"+target, "", mo)
	// What the final check found missing and imported again was copied too.
	res.Stats.Copied = tally.Count("import", "", progress.Copied) + tally.Count(verify.PhaseRepair, "", progress.Copied)
	res.Stats.CopiedBytes = tally.Bytes("import") + tally.Bytes(verify.PhaseRepair)
	res.Stats.Unchanged = tally.Count("import", "", progress.Unchanged)
	if err != nil {
		return res, err
	}
	if !res.Migrate.Verify.OK {
		return res, nil
	}

	if led, err = ledger.Open(statedir.Ledger(o.StateDir)); err != nil {
		return res, err
	}
	dropped, err := dropExtras(ctx, led, target, res.Migrate.Export.Dir)
	if err != nil {
		return res, err
	}
	res.Stats.Dropped = len(dropped)
	// Verify saw those files as extras; they are gone now, and the result
	// should describe the folder as it is left.
	for _, rel := range dropped {
		k := snapshot.KindOf(rel)
		for i := range res.Migrate.Verify.Rows {
			if r := &res.Migrate.Verify.Rows[i]; r.Kind == k && r.Extra > 0 {
				r.Extra--
				r.Destination--
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	st := res.Stats
	if err := writeMarker(target, marker{Tool: markerTool, State: stateComplete, Source: src, Started: started, Finished: o.Now(), Stats: &st}); err != nil {
		return res, err
	}
	res.Complete = true

	res.Removed, res.Kept, err = prune(ctx, led, root, name, o.Keep, o.Log)
	return res, err
}

// newName names the new backup for the time now, later than every backup
// already there (two runs in one second, a clock set back) and than
// anything else of that name in root.
func newName(root string, now time.Time, found []folder) string {
	t := now.UTC().Truncate(time.Second)
	if len(found) > 0 {
		if last, err := time.Parse(NameLayout, found[len(found)-1].name); err == nil && !t.After(last) {
			t = last.Add(time.Second)
		}
	}
	for {
		name := t.Format(NameLayout)
		_, err := os.Lstat(filepath.Join(root, name))
		_, merr := os.Lstat(filepath.Join(root, MarkerDir, name+".json"))
		if errors.Is(err, fs.ErrNotExist) && errors.Is(merr, fs.ErrNotExist) {
			return name
		}
		t = t.Add(time.Second)
	}
}

// Root returns the absolute folder of a dir:PATH destination.
func Root(to string) (string, error) {
	scheme, arg, ok := strings.Cut(to, ":")
	if !ok || scheme != "dir" || strings.TrimSpace(arg) == "" {
		return "", fmt.Errorf("%w: backup --to %q: backups go to a local folder, as in --to dir:/media/usb/phone-backup", mapping.ErrBadInput, to)
	}
	return filepath.Abs(arg)
}

// scan lists miexit's backups in root, oldest first: dated folders with a
// marker it can read. Anything else is the user's and never touched.
func scan(root string) ([]folder, error) {
	des, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", root, err)
	}
	var out []folder
	for _, de := range des {
		if !de.IsDir() || !namePattern.MatchString(de.Name()) {
			continue
		}
		p := filepath.Join(root, de.Name())
		m, err := readMarker(p)
		if err != nil {
			continue
		}
		out = append(out, folder{name: de.Name(), path: p, m: m})
	}
	slices.SortFunc(out, func(a, b folder) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func readMarker(dir string) (marker, error) {
	var m marker
	b, err := os.ReadFile(markerPath(dir))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	if m.Tool != markerTool || !slices.Contains([]string{statePartial, stateComplete, stateRemoving}, m.State) {
		return m, fmt.Errorf("%s: not a miexit backup marker", markerPath(dir))
	}
	return m, nil
}

func writeMarker(dir string, m marker) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	p := markerPath(dir)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteFile(p, append(b, '\n'), true); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return fsutil.SyncDir(filepath.Dir(p))
}

// destName is the name the dir importer files a folder's ledger records
// under; asking the importer keeps the two in step.
func destName(dir string) string {
	d, err := dirimp.New(importers.Params{Arg: dir})
	if err != nil {
		return "dir:" + dir
	}
	return d.Name()
}

// files calls fn for every regular file of a backup folder except
// leftover temp files, with its slash-separated relative path.
func files(ctx context.Context, dir string, fn func(rel, p string, info fs.FileInfo) error) error {
	return filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !de.Type().IsRegular() || fsutil.IsTemp(p) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), p, info)
	})
}

// linkTree fills dst with every file of the complete backup src that dst
// lacks: a hard link (same inode, no new space), or a copy with the same
// mtime where links are refused. The dir importer replaces files by
// temp+rename, so a file that changed later gets a new inode and src never
// changes. The ledger records follow, so the importer sees the linked
// files as its own and copies only what changed.
func linkTree(ctx context.Context, led *ledger.Ledger, src, dst string, st *Stats) error {
	from, to := destName(src), destName(dst)
	err := files(ctx, src, func(rel, p string, info fs.FileInfo) error {
		q := filepath.Join(dst, filepath.FromSlash(rel))
		have, err := os.Lstat(q)
		switch {
		case err == nil:
			// Left by the interrupted run this one resumes: keep what it
			// wrote, and adopt the record only for the same file.
			if !os.SameFile(info, have) && !(have.Size() == info.Size() && have.ModTime().Equal(info.ModTime())) {
				return nil
			}
		case errors.Is(err, fs.ErrNotExist):
			if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
				return fmt.Errorf("backup %s: %w", q, err)
			}
			if err := link(p, q); err == nil {
				st.Linked++
				st.LinkedBytes += info.Size()
			} else {
				if err := copyFile(ctx, p, q, info); err != nil {
					return err
				}
				st.LinkCopied++
				st.LinkCopiedBytes += info.Size()
			}
		default:
			return fmt.Errorf("backup %s: %w", q, err)
		}
		rec, ok, err := led.Get(from, rel)
		if err != nil || !ok || rec.Size != info.Size() || !rec.ModTime.Equal(info.ModTime()) {
			return err
		}
		return led.Put(to, rel, rec)
	})
	if err != nil {
		return fmt.Errorf("link %s from %s: %w", dst, src, err)
	}
	return led.Flush()
}

// link is os.Link; tests replace it to act as a file system without links.
var link = os.Link

// copyFile copies p to q atomically and gives q p's mtime, so the ledger
// record (size and mtime) still describes it.
func copyFile(ctx context.Context, p, q string, info fs.FileInfo) error {
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := fsutil.CopyFrom(q, fsutil.ContextReader(ctx, in), false); err != nil {
		return fmt.Errorf("copy %s: %w", q, err)
	}
	return os.Chtimes(q, info.ModTime(), info.ModTime())
}

// moveRecords renames a backup's ledger records after the folder itself
// was renamed from old to new.
func moveRecords(ctx context.Context, led *ledger.Ledger, oldDir, newDir string) error {
	from, to := destName(oldDir), destName(newDir)
	err := files(ctx, newDir, func(rel, _ string, _ fs.FileInfo) error {
		rec, ok, err := led.Get(from, rel)
		if err != nil || !ok {
			return err
		}
		if err := led.Put(to, rel, rec); err != nil {
			return err
		}
		return led.Delete(from, rel)
	})
	if err != nil {
		return fmt.Errorf("resume %s: %w", newDir, err)
	}
	return led.Flush()
}

// dropExtras removes from the new backup the files it got from the previous
// one that the source no longer has, so each backup is what a fresh
// migrate would write. The older backups keep them.
func dropExtras(ctx context.Context, led *ledger.Ledger, dir, snapDir string) ([]string, error) {
	snap, err := snapshot.Open(snapDir)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{snapshot.ManifestPath: true}
	for e, err := range snap.Files() {
		if err != nil {
			return nil, err
		}
		want[e.Path] = true
	}
	var gone []string
	err = files(ctx, dir, func(rel, p string, _ fs.FileInfo) error {
		if want[rel] {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		gone = append(gone, rel)
		return led.Delete(destName(dir), rel)
	})
	if err != nil {
		return gone, fmt.Errorf("backup %s: %w", dir, err)
	}
	removeEmptyDirs(dir)
	return gone, led.Flush()
}

// removeEmptyDirs removes the folders under dir left empty, deepest first.
func removeEmptyDirs(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.IsDir() && p != dir {
			dirs = append(dirs, p)
		}
		return nil
	})
	for _, d := range slices.Backward(dirs) {
		os.Remove(d) // fails, as it should, on a folder that is not empty
	}
}

// prune deletes, after the backup named newest is complete, the oldest
// complete backups beyond keep and the unfinished ones left behind, and
// forgets their ledger records.
func prune(ctx context.Context, led *ledger.Ledger, root, newest string, keep int, log *slog.Logger) (removed, kept []string, err error) {
	found, err := scan(root)
	if err != nil {
		return nil, nil, err
	}
	slices.Reverse(found) // newest first
	var doomed []folder
	removed = []string{}
	for _, f := range found {
		switch {
		case f.name == newest:
			kept = append(kept, f.name)
		case f.m.State == stateRemoving:
			doomed = append(doomed, f)
		case !f.complete():
			// Unfinished and not resumed: the run that made it was
			// interrupted before the one that just completed.
			if f.name < newest {
				doomed = append(doomed, f)
			}
		case keep == 0 || len(kept) < keep:
			kept = append(kept, f.name)
		default:
			doomed = append(doomed, f)
		}
	}
	if !slices.Contains(kept, newest) {
		// Never delete anything on the strength of a backup we cannot see.
		return nil, kept, fmt.Errorf("backup %s: the new backup is not where it was written; nothing removed", filepath.Join(root, newest))
	}
	slices.Sort(kept)
	slices.Reverse(kept)
	for _, f := range doomed {
		if err := removeBackup(ctx, led, f); err != nil {
			return removed, kept, err
		}
		log.Info("removed an old backup", "path", f.path)
		removed = append(removed, f.name)
	}
	sweepMarkers(root, newest)
	return removed, kept, led.Flush()
}

// sweepMarkers removes markers whose folder is gone: left by a run killed
// between writing its marker and making its folder.
func sweepMarkers(root, newest string) {
	des, _ := os.ReadDir(filepath.Join(root, MarkerDir))
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || !namePattern.MatchString(name) || name >= newest {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, name)); errors.Is(err, fs.ErrNotExist) {
			os.Remove(filepath.Join(root, MarkerDir, de.Name()))
		}
	}
}

func removeBackup(ctx context.Context, led *ledger.Ledger, f folder) error {
	// Check again right before deleting: the folder must still be ours.
	if st, err := os.Lstat(f.path); err != nil || !st.IsDir() {
		return fmt.Errorf("remove old backup %s: no longer a folder", f.path)
	}
	m, err := readMarker(f.path)
	if err != nil {
		return fmt.Errorf("remove old backup %s: %w", f.path, err)
	}
	// The marker says "removing" first: a removal cut short leaves no
	// folder that looks like a good backup, and the next prune finishes it.
	m.State = stateRemoving
	if err := writeMarker(f.path, m); err != nil {
		return fmt.Errorf("remove old backup %s: %w", f.path, err)
	}
	err = files(ctx, f.path, func(rel, _ string, _ fs.FileInfo) error {
		return led.Delete(destName(f.path), rel)
	})
	if err != nil {
		return fmt.Errorf("remove old backup %s: %w", f.path, err)
	}
	if err := led.Flush(); err != nil {
		return err
	}
	if err := os.RemoveAll(f.path); err != nil {
		return fmt.Errorf("remove old backup %s: %w", f.path, err)
	}
	// The marker goes last, so a folder only half removed is still known
	// as ours.
	if err := os.Remove(markerPath(f.path)); err != nil {
		return fmt.Errorf("remove old backup %s: %w", f.path, err)
	}
	return nil
}
