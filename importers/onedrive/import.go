package onedrive

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/graph"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/quickxorhash"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// Ledger Extra fields.
const (
	extRemote    = "remote"     // remote path under the folder, as named there
	extQXH       = "qxh"        // quickXorHash of the uploaded bytes
	extUploadURL = "upload_url" // an unfinished upload session
	extOffset    = "offset"     // bytes the session confirmed
)

// job is one snapshot file that the ledger does not show as done.
type job struct {
	e      mapping.Entry
	remote string // relative to the destination folder
	rec    ledger.Record
	had    bool // the ledger has a record for this path (we wrote it)
}

// Import uploads every whole file of snap that the ledger does not show as
// already there. See importers.Importer for the guarantees.
func (im *Importer) Import(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	if rep == nil {
		rep = progress.Discard
	}
	dest, err := im.ledgerKey(ctx)
	if err != nil {
		return err
	}
	// Names are planned from the paths alone (entries, records and jobs
	// are not held: they come again from the manifest and the ledger
	// below), in sorted order so a re-run picks the same ones.
	var paths []string
	for e, err := range snap.Files() {
		if err != nil {
			return fmt.Errorf("onedrive import: %w", err)
		}
		paths = append(paths, e.Path)
	}
	sort.Strings(paths)
	nm := newNamer()
	// A name given before stays (a stream during the export may have
	// given it in another order than this sort): claims go first.
	for _, p := range paths {
		rec, ok, err := led.Get(dest, p)
		if err != nil {
			return err
		}
		if r := rec.Extra[extRemote]; ok && r != "" {
			nm.claim(p, r)
		}
	}
	needListing := false
	for _, p := range paths {
		remote, ok := nm.byOrig[p]
		if !ok {
			remote = im.name(nm, p)
		}
		if !needListing {
			rec, ok, err := led.Get(dest, p)
			if err != nil {
				return err
			}
			// A file the ledger does not show as ours at that name may
			// already be there: one listing of the folder replaces a
			// lookup per file.
			needListing = !ok || rec.Extra[extRemote] != remote
		}
	}
	paths = nil
	// jobs streams the manifest again with each file's name and record.
	jobs := func(yield func(job) bool) error {
		for e, err := range snap.Files() {
			if err != nil {
				return fmt.Errorf("onedrive import: %w", err)
			}
			rec, ok, err := led.Get(dest, e.Path)
			if err != nil {
				return err
			}
			j, done := newJob(e, nm.byOrig[e.Path], rec, ok)
			if done {
				rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: progress.Unchanged, Bytes: e.Size})
				continue
			}
			if !yield(j) {
				return nil
			}
		}
		return nil
	}
	if im.p.DryRun {
		return jobs(func(j job) bool {
			rep.Report(progress.Event{Phase: "import", Kind: j.e.Kind, Item: j.e.Path, Action: progress.WouldCopy, Bytes: j.e.Size})
			return true
		})
	}
	var existing map[string]graph.Item
	if needListing {
		var err error
		if existing, err = im.listAll(ctx); err != nil {
			return fmt.Errorf("onedrive import: %w", err)
		}
	}
	dirs := newFolders(im, existing)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		failed int
		sem    = make(chan struct{}, im.p.Concurrency)
	)
	jerr := jobs(func(j job) bool {
		if ctx.Err() != nil {
			return false
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(j job) {
			defer func() { <-sem; wg.Done() }()
			var it *graph.Item
			if ex, ok := existing[strings.ToLower(j.remote)]; ok {
				it = &ex
			}
			action, err := im.upload(ctx, snap, led, dirs, dest, j, it)
			if err != nil {
				err = fmt.Errorf("upload %s: %w", j.e.Path, err)
				rep.Report(progress.Event{Phase: "import", Kind: j.e.Kind, Item: j.e.Path, Action: progress.Failed, Err: err.Error()})
				mu.Lock()
				failed++
				if len(errs) < 10 {
					errs = append(errs, err)
				}
				mu.Unlock()
				return
			}
			rep.Report(progress.Event{Phase: "import", Kind: j.e.Kind, Item: j.e.Path, Action: action, Bytes: j.e.Size})
		}(j)
		return true
	})
	wg.Wait()
	ferr := led.Flush()
	if err := ctx.Err(); err != nil {
		return errors.Join(err, ferr)
	}
	if jerr != nil {
		return errors.Join(jerr, ferr)
	}
	if failed > 0 {
		return errors.Join(append([]error{fmt.Errorf("onedrive import: %d files failed", failed)}, append(errs, ferr)...)...)
	}
	return ferr
}

// newJob is the upload of e to remote, given its ledger record (rec, ok),
// or done when the record says the file is there as it should be.
func newJob(e mapping.Entry, remote string, rec ledger.Record, ok bool) (j job, done bool) {
	ours := ok && rec.Extra[extRemote] == remote
	if ours && rec.SHA256 == e.SHA256 && rec.Extra[extUploadURL] == "" {
		return job{}, true
	}
	return job{e: e, remote: remote, rec: rec, had: ours}, false
}

// name gives a path its remote name, and says so when it is not the
// plain one.
func (im *Importer) name(nm *namer, p string) string {
	remote, clash := nm.assign(p)
	if clash {
		im.log.Warn("onedrive: a path differs only in letter case from another; stored under another name", "path", p, "stored_as", remote)
	} else if remote != p {
		im.log.Info("onedrive: name holds characters OneDrive refuses; stored with look-alikes", "path", p, "stored_as", remote)
	}
	return remote
}

// StreamFiles implements importers.FileStreamer: migrate uploads each
// media file as soon as the export has it. Every name the ledger holds
// is claimed first, as Import claims them, so a photo keeps its name and
// no new one takes it; two new files of one export whose names differ
// only in letter case are named in the order the export adds them, and
// Import keeps those names (its claims) afterwards.
func (im *Importer) StreamFiles(ctx context.Context, files snapshot.Folder, led *ledger.Ledger, rep progress.Reporter) (importers.FileSink, error) {
	dest, err := im.ledgerKey(ctx)
	if err != nil {
		return nil, err
	}
	nm := newNamer()
	err = led.Each(dest, snapshot.MediaDir+"/", func(key string, rec ledger.Record) error {
		if r := rec.Extra[extRemote]; r != "" {
			nm.claim(key, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// One listing, as Import makes when the ledger does not know every
	// file; the stream does not know which files will come.
	existing, err := im.listAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("onedrive import: %w", err)
	}
	return &sink{im: im, files: files, led: led, rep: rep, dest: dest, names: nm, existing: existing, dirs: newFolders(im, existing)}, nil
}

type sink struct {
	im       *Importer
	files    snapshot.Folder
	led      *ledger.Ledger
	rep      progress.Reporter
	dest     string
	existing map[string]graph.Item // read only
	dirs     *folders

	mu    sync.Mutex
	names *namer
}

func (s *sink) Workers() int { return s.im.p.Concurrency }

func (s *sink) ImportFile(ctx context.Context, e mapping.Entry) error {
	rec, ok, err := s.led.Get(s.dest, e.Path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	remote := rec.Extra[extRemote]
	if !ok || remote == "" || !s.names.claim(e.Path, remote) {
		remote = s.im.name(s.names, e.Path)
	}
	s.mu.Unlock()
	j, done := newJob(e, remote, rec, ok)
	if done {
		s.rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: progress.Unchanged, Bytes: e.Size})
		return nil
	}
	var it *graph.Item
	if ex, found := s.existing[strings.ToLower(remote)]; found {
		it = &ex
	}
	act, err := s.im.upload(ctx, s.files, s.led, s.dirs, s.dest, j, it)
	if err != nil {
		return fmt.Errorf("upload %s: %w", e.Path, err)
	}
	s.rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: act, Bytes: e.Size})
	return nil
}

func (s *sink) Close() error { return nil }

// fileDate is the date a file carries at the destination, to the second
// as OneDrive keeps it.
func fileDate(e mapping.Entry) time.Time {
	d := e.Modified
	if !e.Taken.IsZero() {
		d = e.Taken
	}
	return d.UTC().Truncate(time.Second)
}

func (im *Importer) fsInfo(e mapping.Entry) graph.FileSystemInfo {
	d := fileDate(e)
	fsi := graph.FileSystemInfo{LastModifiedDateTime: d}
	if !e.Taken.IsZero() {
		fsi.CreatedDateTime = d
	}
	return fsi
}

func sameDate(it *graph.Item, d time.Time) bool {
	return d.IsZero() || (it.FileSystemInfo != nil && it.FileSystemInfo.LastModifiedDateTime.Equal(d))
}

func matches(it *graph.Item, size int64, qxh string) bool {
	return it != nil && it.File != nil && it.Size == size && it.File.Hashes.QuickXorHash == qxh
}

// upload makes the destination hold one file: it hashes the local file,
// trusts an identical remote file, and otherwise uploads it (simple PUT or
// session) and checks the hash Graph computed.
func (im *Importer) upload(ctx context.Context, snap snapshot.Files, led *ledger.Ledger, dirs *folders, dest string, j job, existing *graph.Item) (progress.Action, error) {
	f, err := snap.Open(j.e.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	size, qxh, sha, err := hashFile(f)
	if err != nil {
		return "", err
	}
	if size != j.e.Size || sha != j.e.SHA256 {
		// The quickXorHash is OneDrive's: only the sha256 says these
		// are the bytes the manifest lists, so a snapshot file changed
		// after the export is not uploaded (nor vouched for by a check
		// that compares quickXorHashes) as if it were the original.
		return "", fmt.Errorf("%w: snapshot file %s does not match its manifest (%d bytes, sha256 %s; manifest %d bytes, %s): export again", mapping.ErrBadInput, j.e.Path, size, sha, j.e.Size, j.e.SHA256)
	}
	full := im.remotePath(j.remote)
	date := fileDate(j.e)
	done := func(it *graph.Item, a progress.Action) (progress.Action, error) {
		return a, led.Put(dest, j.e.Path, ledger.Record{SHA256: j.e.SHA256, Size: size, RemoteID: it.ID, ModTime: date,
			Extra: map[string]string{extRemote: j.remote, extQXH: qxh}})
	}
	if !j.had && matches(existing, size, qxh) {
		// Already there: the ledger lost its record, or another run
		// uploaded it.
		it := existing
		if !sameDate(it, date) {
			if it, err = im.c.SetFileSystemInfo(ctx, it.ID, im.fsInfo(j.e)); err != nil {
				return "", err
			}
		}
		return done(it, progress.Unchanged)
	}
	// Replace only what we wrote before or what differs from the snapshot:
	// OneDrive keeps the replaced bytes in the file's version history.
	conflict := graph.Fail
	if j.had || existing != nil {
		conflict = graph.Replace
	}
	var it *graph.Item
	if size <= im.smallMax {
		it, err = im.simple(ctx, f, size, qxh, full, conflict, j.e)
	} else {
		it, err = im.session(ctx, led, dirs, dest, f, size, qxh, full, conflict, j)
	}
	if err != nil {
		return "", err
	}
	if !matches(it, size, qxh) {
		got := ""
		if it.File != nil {
			got = it.File.Hashes.QuickXorHash
		}
		return "", fmt.Errorf("OneDrive holds %d bytes with quickXorHash %s, the snapshot %d bytes with %s", it.Size, got, size, qxh)
	}
	return done(it, progress.Copied)
}

// hashFile reads f once for its size, its quickXorHash (OneDrive's) and
// its sha256 (the manifest's).
func hashFile(f *os.File) (int64, string, string, error) {
	h, s := quickxorhash.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(h, s), io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return 0, "", "", err
	}
	return n, base64.StdEncoding.EncodeToString(h.Sum(nil)), hex.EncodeToString(s.Sum(nil)), nil
}

// simple uploads in one PUT, then sets the date, which the PUT cannot.
func (im *Importer) simple(ctx context.Context, f *os.File, size int64, qxh, full, conflict string, e mapping.Entry) (*graph.Item, error) {
	it, err := im.c.PutContent(ctx, im.root, full, f, size, conflict)
	if graph.IsConflict(err) && conflict == graph.Fail {
		// An earlier attempt whose answer was lost may have landed.
		cur, gerr := im.c.Item(ctx, im.root, full)
		if gerr == nil && matches(cur, size, qxh) {
			it, err = cur, nil
		} else {
			it, err = im.c.PutContent(ctx, im.root, full, f, size, graph.Replace)
		}
	}
	if err != nil {
		return nil, err
	}
	if d := fileDate(e); !sameDate(it, d) {
		return im.c.SetFileSystemInfo(ctx, it.ID, im.fsInfo(e))
	}
	return it, nil
}

// session uploads through a resumable session kept in the ledger, so a
// crash resumes where the session stands. A new session's folder is made
// first: Graph does not create it for a session.
func (im *Importer) session(ctx context.Context, led *ledger.Ledger, dirs *folders, dest string, f *os.File, size int64, qxh, full, conflict string, j job) (*graph.Item, error) {
	url, start := "", int64(0)
	if u := j.rec.Extra[extUploadURL]; u != "" && j.rec.SHA256 == j.e.SHA256 && j.rec.Extra[extRemote] == j.remote {
		st, err := im.c.SessionStatus(ctx, u)
		switch {
		case err == nil:
			if next, ok, perr := st.Next(); perr == nil && ok {
				url, start = u, next
				im.log.Info("onedrive: resuming upload", "path", j.e.Path, "offset", next)
			}
		case errors.Is(err, graph.ErrSessionGone):
			// Finished with a lost answer, or expired: look.
			if cur, gerr := im.c.Item(ctx, im.root, full); gerr == nil && matches(cur, size, qxh) {
				return cur, nil
			}
		default:
			return nil, err
		}
	} else if u != "" {
		// The file changed since that session began.
		if err := im.c.CancelSession(ctx, u); err != nil {
			im.log.Warn("onedrive: could not cancel an old upload session", "path", j.e.Path, "err", err)
		}
	}
	for attempt := 0; ; attempt++ {
		if url == "" {
			if err := dirs.parentOf(ctx, full); err != nil {
				return nil, err
			}
			s, err := im.c.CreateUploadSession(ctx, im.root, full, conflict, im.fsInfo(j.e))
			if err != nil {
				return nil, err
			}
			url, start = s.UploadURL, 0
			if err := im.saveSession(led, dest, j, url, 0); err != nil {
				return nil, err
			}
		}
		it, err := im.c.Upload(ctx, url, f, size, start, im.fragSize, func(next int64) error {
			return im.saveSession(led, dest, j, url, next)
		})
		if err == nil {
			return it, nil
		}
		gone, conflictErr := errors.Is(err, graph.ErrSessionGone), graph.IsConflict(err)
		if !gone && !conflictErr {
			return nil, err
		}
		if cur, gerr := im.c.Item(ctx, im.root, full); gerr == nil && matches(cur, size, qxh) {
			return cur, nil
		}
		if attempt > 0 {
			return nil, err
		}
		url = ""
		if conflictErr {
			conflict = graph.Replace
		}
	}
}

func (im *Importer) saveSession(led *ledger.Ledger, dest string, j job, url string, off int64) error {
	return led.PutNow(dest, j.e.Path, ledger.Record{SHA256: j.e.SHA256, Size: j.e.Size, Extra: map[string]string{
		extRemote: j.remote, extUploadURL: url, extOffset: strconv.FormatInt(off, 10),
	}})
}
