// Package dir is the local-folder destination ("dir:PATH"): the snapshot's
// files copied into PATH with the same layout, so the folder is a complete,
// readable backup that verify can check file by file.
package dir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func init() {
	importers.Register("dir", func(ctx context.Context, p importers.Params) (importers.Importer, error) {
		return New(p)
	})
}

// Importer copies a snapshot into a local folder.
type Importer struct {
	root        string
	dryRun      bool
	concurrency int
	log         *slog.Logger
	writes      atomic.Int64
	// realDirs caches the folders Lookup found to be real folders, not
	// symlinks (which List's walk does not follow); Count clears it.
	realDirs sync.Map
}

// New returns the importer for the folder p.Arg.
func New(p importers.Params) (*Importer, error) {
	if strings.TrimSpace(p.Arg) == "" {
		return nil, fmt.Errorf("%w: dir: needs a folder, as in dir:./miexit-backup", mapping.ErrBadInput)
	}
	root, err := filepath.Abs(p.Arg)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(root); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a file, not a folder", mapping.ErrBadInput, root)
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Copies to a local disk are bound by the CPU (the kernel's copy and
	// the sha256 of the read-back), so more copies at once than cores
	// only contend: measured on 2 cores, 1 GB took 3.0 s one at a time,
	// 1.7 s two at a time, 2.1 s four at a time.
	conc := min(max(p.Concurrency, 1), runtime.GOMAXPROCS(0))
	return &Importer{root: root, dryRun: p.DryRun, concurrency: conc, log: log}, nil
}

// Name implements importers.Importer.
func (d *Importer) Name() string { return "dir:" + d.root }

// Root is the destination folder.
func (d *Importer) Root() string { return d.root }

// Writes counts the files this importer created or replaced.
func (d *Importer) Writes() int64 { return d.writes.Load() }

// importBatch is how many files one import goroutine takes at a time.
const importBatch = 16

// Import implements importers.Importer.
func (d *Importer) Import(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	if rep == nil {
		rep = progress.Discard
	}
	if err := d.prepare(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.concurrency)
	// Small batches: a re-run finds most files done with one lstat each,
	// cheaper than a goroutine of its own.
	var batch []mapping.Entry
	flush := func() {
		b := batch
		batch = nil
		g.Go(func() error {
			for _, e := range b {
				act, err := d.copyOne(gctx, snap, led, e)
				if err != nil {
					rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: progress.Failed, Err: err.Error()})
					return err
				}
				rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: act, Bytes: e.Size})
			}
			return nil
		})
	}
	for e, err := range snap.Files() {
		if err != nil {
			return err
		}
		if gctx.Err() != nil {
			break
		}
		if batch = append(batch, e); len(batch) == importBatch {
			flush()
		}
	}
	if len(batch) > 0 && gctx.Err() == nil {
		flush()
	}
	err := g.Wait()
	if ferr := led.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return err
	}
	if d.dryRun {
		return nil
	}
	// The manifest goes last: a folder with a manifest is a complete copy.
	return d.copyManifest(snap, led)
}

// StreamFiles implements importers.FileStreamer: migrate copies each
// media file here as soon as the export has it.
func (d *Importer) StreamFiles(ctx context.Context, files snapshot.Folder, led *ledger.Ledger, rep progress.Reporter) (importers.FileSink, error) {
	if err := d.prepare(ctx); err != nil {
		return nil, err
	}
	return &sink{d: d, files: files, led: led, rep: rep}, nil
}

type sink struct {
	d     *Importer
	files snapshot.Folder
	led   *ledger.Ledger
	rep   progress.Reporter
}

func (s *sink) Workers() int { return s.d.concurrency }

func (s *sink) ImportFile(ctx context.Context, e mapping.Entry) error {
	act, err := s.d.copyOne(ctx, s.files, s.led, e)
	if err != nil {
		return err
	}
	s.rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: act, Bytes: e.Size})
	return nil
}

func (s *sink) Close() error { return nil }

// prepare makes the root and sweeps what a killed run left in it.
func (d *Importer) prepare(ctx context.Context) error {
	if d.dryRun {
		return nil
	}
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		return fsutil.Explain(d.root, fmt.Errorf("dir %s: %w", d.root, err))
	}
	// A run killed between creating a temp file and renaming it leaves
	// the temp file behind; the ledger lock means no other miexit is
	// writing here now, so every one of them is debris.
	return fsutil.SweepTemps(ctx, d.root, d.log)
}

// copyOne makes the destination hold e, and says what it did.
func (d *Importer) copyOne(ctx context.Context, snap snapshot.Files, led *ledger.Ledger, e mapping.Entry) (progress.Action, error) {
	dst, err := fsutil.Join(d.root, e.Path)
	if err != nil {
		return "", err
	}
	st, statErr := os.Lstat(dst)
	exists := statErr == nil
	if exists && !st.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s exists and is not a regular file; move it away and run again", mapping.ErrBadInput, dst)
	}
	rec, known, err := led.Get(d.Name(), e.Path)
	if err != nil {
		return "", err
	}
	// ours: the destination file is, by size and mtime, what we wrote.
	ours := exists && known && rec.Size == st.Size() && rec.ModTime.Equal(st.ModTime())
	if ours && rec.SHA256 == e.SHA256 {
		return progress.Unchanged, nil
	}
	if exists && !ours && st.Size() == e.Size {
		sum, err := hashFile(dst)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", dst, err)
		}
		if sum == e.SHA256 {
			// Written by a run that was killed before its ledger flush,
			// or copied by hand: the same bytes, so keep them.
			return progress.Unchanged, led.Put(d.Name(), e.Path, ledger.Record{SHA256: sum, Size: st.Size(), ModTime: st.ModTime()})
		}
	}
	if d.dryRun {
		return progress.WouldCopy, nil
	}
	if exists && !ours {
		kept, err := keepAside(dst)
		if err != nil {
			return "", fsutil.Explain(dst, fmt.Errorf("keep %s: %w", dst, err))
		}
		d.log.Warn("a different file was already at the destination; kept it under a new name", "path", dst, "kept_as", kept)
	}
	src, err := snap.Open(e.Path)
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", e.Path, err)
	}
	defer src.Close()
	f, err := fsutil.Create(dst)
	if err != nil {
		return "", fsutil.Explain(dst, fmt.Errorf("write %s: %w", dst, err))
	}
	n, err := kernelCopy(ctx, f.File, src)
	if err != nil {
		f.Abort()
		return "", fsutil.Explain(dst, fmt.Errorf("copy %s: %w", e.Path, err))
	}
	// The copy is checked by reading back what the destination file now
	// holds, not the stream that went in: it is those bytes that must be
	// the manifest's. Read from offset 0 with a limit one past the copy's
	// size: one pread for a photo (no seek, no read to find the end), and
	// a file longer than the copy still fails the check.
	h := sha256.New()
	back, err := fsutil.Copy(h, fsutil.ContextReader(ctx, io.NewSectionReader(f, 0, n+1)))
	if err != nil {
		f.Abort()
		return "", fsutil.Explain(dst, fmt.Errorf("read back %s: %w", dst, err))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 || n != e.Size || back != n {
		f.Abort()
		return "", fmt.Errorf("%w: snapshot file %s does not match its manifest (sha256 %s, %d bytes; manifest %s, %d bytes): export again", mapping.ErrBadInput, e.Path, got, back, e.SHA256, e.Size)
	}
	// Dated and measured through the open file before it is named: what
	// the ledger records is this file, and no path is walked again.
	if !e.Modified.IsZero() {
		if err := f.SetModTime(e.Modified); err != nil {
			f.Abort()
			return "", fsutil.Explain(dst, err)
		}
	}
	nst, err := f.Stat()
	if err != nil {
		f.Abort()
		return "", fsutil.Explain(dst, err)
	}
	if err := f.Commit(); err != nil {
		return "", fsutil.Explain(dst, fmt.Errorf("write %s: %w", dst, err))
	}
	// The snapshot's file is not read again by this run: its pages are
	// the first the kernel takes back, for the copies still to come
	// (1 GB migrate -> dir: 2.93-3.04 -> 2.42-2.47 s, system time
	// halved; in this VM fresh pages cost a fault at the host).
	fsutil.LetGo(src)
	d.writes.Add(1)
	return progress.Copied, led.Put(d.Name(), e.Path, ledger.Record{SHA256: e.SHA256, Size: nst.Size(), ModTime: nst.ModTime()})
}

// keepAside renames a file we did not write to "name (miexit-kept N).ext",
// so nothing already at the destination is lost.
func keepAside(p string) (string, error) {
	ext := filepath.Ext(p)
	base := strings.TrimSuffix(p, ext)
	for i := 1; i < 1000; i++ {
		cand := fmt.Sprintf("%s (miexit-kept %d)%s", base, i, ext)
		if _, err := os.Lstat(cand); errors.Is(err, fs.ErrNotExist) {
			return cand, os.Rename(p, cand)
		}
	}
	return "", errors.New("too many kept copies")
}

// Finished implements importers.Finisher: the manifest is copied last, so
// its copy, recorded for this very snapshot manifest and unchanged since,
// says an Import of snap ran to its end here.
func (d *Importer) Finished(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger) (bool, error) {
	_, done, err := d.manifestCopied(snap, led)
	return done, err
}

// manifestCopied reports whether the destination's manifest is the copy
// an Import of snap made, unchanged since; srcID names snap's manifest.
// The ledger remembers which snapshot manifest (by size and mtime) was
// copied, and what the copy looked like: an unchanged re-run then reads
// neither file.
func (d *Importer) manifestCopied(snap *snapshot.Reader, led *ledger.Ledger) (srcID string, done bool, err error) {
	src, err := snap.Path(snapshot.ManifestPath)
	if err != nil {
		return "", false, err
	}
	sst, err := os.Stat(src)
	if err != nil {
		return "", false, fmt.Errorf("snapshot manifest: %w", err)
	}
	srcID = fmt.Sprintf("%d %d", sst.Size(), sst.ModTime().UnixNano())
	if rec, ok, err := led.Get(d.Name(), snapshot.ManifestPath); err == nil && ok && rec.Extra["snapshot"] == srcID {
		if dst, err := os.Lstat(filepath.Join(d.root, snapshot.ManifestPath)); err == nil && dst.Mode().IsRegular() && dst.Size() == rec.Size && dst.ModTime().Equal(rec.ModTime) {
			return srcID, true, nil
		}
	}
	return srcID, false, nil
}

func (d *Importer) copyManifest(snap *snapshot.Reader, led *ledger.Ledger) error {
	srcID, done, err := d.manifestCopied(snap, led)
	if err != nil || done {
		return err
	}
	src, err := snap.Path(snapshot.ManifestPath)
	if err != nil {
		return err
	}
	dst := filepath.Join(d.root, snapshot.ManifestPath)
	a, _, err := snapshot.HashFile(src)
	if err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	if b, _, err := snapshot.HashFile(dst); err != nil || a != b {
		f, err := fsutil.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := fsutil.CopyFrom(dst, f, true); err != nil {
			return fsutil.Explain(dst, fmt.Errorf("write %s: %w", dst, err))
		}
		d.writes.Add(1)
	}
	dstSt, err := os.Stat(dst)
	if err != nil {
		return err
	}
	if err := led.PutNow(d.Name(), snapshot.ManifestPath, ledger.Record{SHA256: a, Size: dstSt.Size(), ModTime: dstSt.ModTime(), Extra: map[string]string{"snapshot": srcID}}); err != nil {
		return err
	}
	return nil
}

// List implements importers.Importer: it walks and hashes the folder
// itself, never trusting the ledger.
func (d *Importer) List(ctx context.Context, kind mapping.Kind) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		switch kind {
		case mapping.KindContact:
			d.listRecords(ctx, kind, snapshot.ContactsPath, yield)
		case mapping.KindMessage:
			d.listRecords(ctx, kind, snapshot.MessagesPath, yield)
		case mapping.KindCall:
			d.listRecords(ctx, kind, snapshot.CallsPath, yield)
		default:
			d.listFiles(ctx, kind, yield)
		}
	}
}

func (d *Importer) listRecords(ctx context.Context, kind mapping.Kind, rel string, yield func(mapping.Remote, error) bool) {
	f, err := os.Open(filepath.Join(d.root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		yield(mapping.Remote{}, err)
		return
	}
	defer f.Close()
	for r, err := range snapshot.RemoteRecords(kind, rel, f) {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			yield(mapping.Remote{}, fmt.Errorf("%s: %w", filepath.Join(d.root, rel), err))
			return
		}
		if !yield(r, nil) {
			return
		}
	}
}

// ListWritten implements importers.WrittenLister: as List, except that a
// file whose size and mtime are still those the ledger recorded when this
// importer wrote it is not read back; the sha256 computed while writing it
// stands. Anything else (a file touched, replaced or copied in by hand) is
// read and hashed.
func (d *Importer) ListWritten(ctx context.Context, kind mapping.Kind, led *ledger.Ledger) iter.Seq2[mapping.Remote, error] {
	if !snapshot.WholeFile(kind) {
		return d.List(ctx, kind)
	}
	return func(yield func(mapping.Remote, error) bool) {
		d.listFilesWith(ctx, kind, led, yield)
	}
}

func (d *Importer) listFiles(ctx context.Context, kind mapping.Kind, yield func(mapping.Remote, error) bool) {
	d.listFilesWith(ctx, kind, nil, yield)
}

// written returns the sha256 recorded for rel when the file is unchanged
// since this importer wrote it.
func (d *Importer) written(led *ledger.Ledger, rel string, info fs.FileInfo) (string, bool) {
	if led == nil {
		return "", false
	}
	rec, ok, err := led.Get(d.Name(), rel)
	if err != nil || !ok || rec.SHA256 == "" || rec.Size != info.Size() || !rec.ModTime.Equal(info.ModTime()) {
		return "", false
	}
	return rec.SHA256, true
}

func (d *Importer) listFilesWith(ctx context.Context, kind mapping.Kind, led *ledger.Ledger, yield func(mapping.Remote, error) bool) {
	stop := errors.New("stop")
	err := d.walkFiles(ctx, func(p, rel string, de fs.DirEntry) error {
		if snapshot.KindOf(rel) != kind {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		sum, ok := d.written(led, rel, info)
		if !ok {
			if sum, err = hashFile(p); err != nil {
				return fmt.Errorf("read %s: %w", p, err)
			}
		}
		key := rel
		if kind == mapping.KindMedia {
			key = strings.TrimPrefix(rel, snapshot.MediaDir+"/")
		}
		if !yield(mapping.Remote{Kind: kind, Key: key, Path: path.Clean(rel), Size: info.Size(), SHA256: sum}, nil) {
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		yield(mapping.Remote{}, fmt.Errorf("list %s: %w", d.root, err))
	}
}

// walkFiles calls fn for each regular file under the root that List
// shows (not the manifest copy, not a temp file, never through a
// symlink), with its path and its slash-separated path from the root.
func (d *Importer) walkFiles(ctx context.Context, fn func(p, rel string, de fs.DirEntry) error) error {
	if _, err := os.Stat(d.root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(d.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if de.IsDir() || !de.Type().IsRegular() || fsutil.IsTemp(p) {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); rel == snapshot.ManifestPath {
			return nil
		}
		return fn(p, rel, de)
	})
}

// Lookup implements importers.Looker: one lstat of the file (and of each
// folder above it, once per folder and run), so that it finds exactly
// what List's walk finds: regular files, never through a symlink.
func (d *Importer) Lookup(ctx context.Context, kind mapping.Kind, rel string, trust *ledger.Ledger) (mapping.Remote, bool, error) {
	if err := ctx.Err(); err != nil {
		return mapping.Remote{}, false, err
	}
	native := filepath.FromSlash(rel)
	if !filepath.IsLocal(native) || rel == snapshot.ManifestPath || snapshot.KindOf(rel) != kind || !snapshot.WholeFile(kind) {
		return mapping.Remote{}, false, nil
	}
	p := filepath.Join(d.root, native)
	if fsutil.IsTemp(p) {
		return mapping.Remote{}, false, nil
	}
	if ok, err := d.realDir(filepath.Dir(p)); !ok || err != nil {
		return mapping.Remote{}, false, err
	}
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return mapping.Remote{}, false, nil
	}
	if err != nil {
		return mapping.Remote{}, false, fmt.Errorf("look up %s: %w", p, err)
	}
	if !info.Mode().IsRegular() {
		return mapping.Remote{}, false, nil
	}
	sum, ok := d.written(trust, rel, info)
	if !ok {
		if sum, err = hashFile(p); err != nil {
			return mapping.Remote{}, false, fmt.Errorf("read %s: %w", p, err)
		}
	}
	key := rel
	if kind == mapping.KindMedia {
		key = strings.TrimPrefix(rel, snapshot.MediaDir+"/")
	}
	return mapping.Remote{Kind: kind, Key: key, Path: path.Clean(rel), Size: info.Size(), SHA256: sum}, true, nil
}

// realDir reports whether dir, under the root, and every folder between
// them are real folders.
func (d *Importer) realDir(dir string) (bool, error) {
	if dir == d.root {
		return true, nil
	}
	if _, ok := d.realDirs.Load(dir); ok {
		return true, nil
	}
	if ok, err := d.realDir(filepath.Dir(dir)); !ok || err != nil {
		return ok, err
	}
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", dir, err)
	}
	if !info.IsDir() {
		return false, nil
	}
	d.realDirs.Store(dir, true)
	return true, nil
}

// Count implements importers.Looker: one walk, nothing read.
func (d *Importer) Count(ctx context.Context) (map[mapping.Kind]int, error) {
	d.realDirs.Clear()
	n := map[mapping.Kind]int{}
	err := d.walkFiles(ctx, func(_, rel string, _ fs.DirEntry) error {
		n[snapshot.KindOf(rel)]++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", d.root, err)
	}
	return n, nil
}

func hashFile(p string) (string, error) {
	s, _, err := snapshot.CheckFile(p)
	return s, err
}

// copyChunk is how much kernelCopy moves between looks at ctx.
const copyChunk = 64 << 20

// kernelCopy copies src to dst with copy_file_range (or sendfile) where
// the kernel offers it, so the bytes never pass through miexit, in chunks
// so a cancelled run stops within one.
func kernelCopy(ctx context.Context, dst, src *os.File) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := dst.ReadFrom(&io.LimitedReader{R: src, N: copyChunk})
		total += n
		if err != nil {
			return total, err
		}
		if n < copyChunk {
			return total, nil
		}
	}
}
