package google

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

const folderMIME = "application/vnd.google-apps.folder"

// appProperties miexit sets. Keys and values share 124 bytes, so long item
// keys (media keys are paths) are not stored; the path is the key then.
const (
	apDest   = "miexit_dest"   // the destination's tag, on everything below miexit/<source>
	apRole   = "miexit_role"   // "root" (miexit/), "base" (<source>), "dir"
	apKind   = "miexit_kind"   // mapping.Kind of a file
	apKey    = "miexit_key"    // the item key, when it fits
	apSHA256 = "miexit_sha256" // the snapshot's sha256 of the bytes
	apMD5    = "miexit_md5"    // md5 of the bytes, as Drive computes it
)

const fileFields = "id,name,mimeType,parents,size,md5Checksum,sha256Checksum,appProperties,modifiedTime"

// remoteFile is one file under the source's folder.
type remoteFile struct {
	id, path string
	size     int64
	md5, sha string // Drive's own checksums
	props    map[string]string
	modified string
}

// sha256 is the file's sha256 as far as Drive vouches for it: its own
// sha256Checksum, else the sha256 miexit recorded if Drive's md5 still
// matches the md5 recorded with it. Otherwise a value matching nothing.
func (f *remoteFile) sha256() string {
	if f.sha != "" {
		return f.sha
	}
	if f.md5 != "" && f.md5 == f.props[apMD5] && f.props[apSHA256] != "" {
		return f.props[apSHA256]
	}
	return "unverified-md5:" + f.md5
}

// remote is the file as verify sees it, at snapshot path p.
func (f *remoteFile) remote(kind mapping.Kind, p string) mapping.Remote {
	key := f.props[apKey]
	if key == "" {
		key = p
	}
	return mapping.Remote{Kind: kind, Key: key, Path: p, Size: f.size, SHA256: f.sha256()}
}

// tree is what Drive holds under miexit/<source>.
type tree struct {
	rootID  string            // miexit/
	baseID  string            // miexit/<source>/
	folders map[string]string // relative dir -> id
	files   map[string][]*remoteFile
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// listAll pages through files.list for a query.
func (im *Importer) listAll(ctx context.Context, q string) ([]*drive.File, error) {
	var out []*drive.File
	token := ""
	for {
		var resp *drive.FileList
		err := im.call(ctx, "list drive files", func(ctx context.Context) error {
			var err error
			resp, err = im.drive.Files.List().Q(q).PageSize(1000).PageToken(token).Spaces("drive").
				Fields(googleapi.Field("nextPageToken,files(" + fileFields + ")")).Context(ctx).Do()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("google drive: %w", err)
		}
		out = append(out, resp.Files...)
		if resp.NextPageToken == "" {
			return out, nil
		}
		token = resp.NextPageToken
	}
}

// loadTree reads every file miexit put under this destination, in one
// paged query on the destination's tag, and rebuilds their paths.
func (im *Importer) loadTree(ctx context.Context) (*tree, error) {
	t := &tree{folders: map[string]string{}, files: map[string][]*remoteFile{}}
	roots, err := im.listAll(ctx, fmt.Sprintf("appProperties has { key='%s' and value='root' } and mimeType = '%s' and trashed = false", apRole, folderMIME))
	if err != nil {
		return nil, err
	}
	if len(roots) > 0 {
		t.rootID = roots[0].Id
	}
	all, err := im.listAll(ctx, fmt.Sprintf("appProperties has { key='%s' and value=%s } and trashed = false", apDest, quote(im.tag)))
	if err != nil {
		return nil, err
	}
	byID := map[string]*drive.File{}
	for _, f := range all {
		byID[f.Id] = f
		if f.AppProperties[apRole] == "base" && t.baseID == "" {
			t.baseID = f.Id
		}
	}
	// pathOf walks up to any base folder (a crash can leave two).
	var pathOf func(f *drive.File, depth int) (string, bool)
	pathOf = func(f *drive.File, depth int) (string, bool) {
		if f.AppProperties[apRole] == "base" {
			return "", true
		}
		if depth > 100 || len(f.Parents) == 0 {
			return "", false
		}
		p := byID[f.Parents[0]]
		if p == nil {
			return "", false
		}
		dir, ok := pathOf(p, depth+1)
		if !ok {
			return "", false
		}
		return path.Join(dir, f.Name), true
	}
	for _, f := range all {
		if f.AppProperties[apRole] == "base" {
			continue
		}
		rel, ok := pathOf(f, 0)
		if !ok {
			continue
		}
		if f.MimeType == folderMIME {
			if _, seen := t.folders[rel]; !seen {
				t.folders[rel] = f.Id
			}
			continue
		}
		t.files[rel] = append(t.files[rel], &remoteFile{
			id: f.Id, path: rel, size: f.Size, md5: f.Md5Checksum, sha: f.Sha256Checksum,
			props: f.AppProperties, modified: f.ModifiedTime,
		})
	}
	return t, nil
}

// folders creates the folder tree on demand, once per path.
type folders struct {
	im *Importer
	t  *tree
	mu sync.Mutex
}

func (fs *folders) createFolder(ctx context.Context, name, parent string, props map[string]string) (string, error) {
	im := fs.im
	meta := &drive.File{Name: name, MimeType: folderMIME, AppProperties: props}
	if parent != "" {
		meta.Parents = []string{parent}
	}
	var out *drive.File
	tries := 0
	err := im.call(ctx, "create folder "+name, func(ctx context.Context) error {
		if tries++; tries > 1 {
			// The last attempt may have made the folder and lost the
			// answer (a reset, a cut body): creating again would leave two.
			found, err := im.findFolder(ctx, name, parent, props[apRole])
			if err != nil {
				return err
			}
			if found != nil {
				out = found
				return nil
			}
		}
		var err error
		out, err = im.drive.Files.Create(meta).Fields("id").Context(ctx).Do()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("google drive: create folder %s: %w", name, err)
	}
	return out.Id, nil
}

// findFolder looks for a folder miexit made with this name, parent and
// role; nil when there is none.
func (im *Importer) findFolder(ctx context.Context, name, parent, role string) (*drive.File, error) {
	q := fmt.Sprintf("name = %s and mimeType = '%s' and trashed = false and appProperties has { key='%s' and value=%s }", quote(name), folderMIME, apRole, quote(role))
	if parent != "" {
		q += fmt.Sprintf(" and %s in parents", quote(parent))
	}
	var resp *drive.FileList
	err := im.call(ctx, "look for folder "+name, func(ctx context.Context) error {
		var err error
		resp, err = im.drive.Files.List().Q(q).PageSize(10).Spaces("drive").Fields("files(id)").Context(ctx).Do()
		return err
	})
	if err != nil || len(resp.Files) == 0 {
		return nil, err
	}
	return resp.Files[0], nil
}

// dir returns the id of the folder at rel ("" is the source's folder).
func (fs *folders) dir(ctx context.Context, rel string) (string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.dirLocked(ctx, rel)
}

func (fs *folders) dirLocked(ctx context.Context, rel string) (string, error) {
	t := fs.t
	if rel == "" || rel == "." {
		if t.baseID != "" {
			return t.baseID, nil
		}
		if t.rootID == "" {
			id, err := fs.createFolder(ctx, "miexit", "", map[string]string{apRole: "root"})
			if err != nil {
				return "", err
			}
			t.rootID = id
		}
		id, err := fs.createFolder(ctx, fs.im.folder, t.rootID, map[string]string{apRole: "base", apDest: fs.im.tag})
		if err != nil {
			return "", err
		}
		t.baseID = id
		return id, nil
	}
	if id, ok := t.folders[rel]; ok {
		return id, nil
	}
	parent, err := fs.dirLocked(ctx, path.Dir(rel))
	if err != nil {
		return "", err
	}
	id, err := fs.createFolder(ctx, path.Base(rel), parent, map[string]string{apRole: "dir", apDest: fs.im.tag})
	if err != nil {
		return "", err
	}
	t.folders[rel] = id
	return id, nil
}

// StreamFiles implements importers.FileStreamer: migrate uploads each
// media file as soon as the export has it. The Import after the export
// goes on from the same folder tree, with what the stream uploaded in
// it, so it neither lists Drive again nor depends on a fresh listing
// already showing files uploaded a moment ago.
func (im *Importer) StreamFiles(ctx context.Context, files snapshot.Folder, led *ledger.Ledger, rep progress.Reporter) (importers.FileSink, error) {
	dest, err := importers.LedgerKey(ctx, im)
	if err != nil {
		return nil, err
	}
	im.dest = dest
	t, err := im.loadTree(ctx)
	if err != nil {
		return nil, err
	}
	fs := &folders{im: im, t: t}
	im.streamMu.Lock()
	im.streamed = fs
	im.streamMu.Unlock()
	return &sink{im: im, files: files, led: led, fs: fs, rep: rep}, nil
}

type sink struct {
	im    *Importer
	files snapshot.Folder
	led   *ledger.Ledger
	fs    *folders
	rep   progress.Reporter
}

func (s *sink) Workers() int { return s.im.p.Concurrency }

func (s *sink) ImportFile(ctx context.Context, e mapping.Entry) error {
	return s.im.importFile(ctx, s.files, s.led, s.rep, s.fs, e)
}

func (s *sink) Close() error { return nil }

func (im *Importer) importFiles(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	im.streamMu.Lock()
	fs := im.streamed
	im.streamed = nil
	im.streamMu.Unlock()
	if fs == nil {
		t, err := im.loadTree(ctx)
		if err != nil {
			return err
		}
		fs = &folders{im: im, t: t}
	}
	work := make(chan mapping.Entry)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range im.p.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				if err := im.importFile(ctx, snap, led, rep, fs, e); err != nil {
					im.report(rep, e.Kind, e.Path, progress.Failed, 0, err)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	var feedErr error
	for e, err := range snap.Files() {
		if err != nil {
			feedErr = err
			break
		}
		select {
		case work <- e:
		case <-ctx.Done():
			feedErr = ctx.Err()
		}
		if feedErr != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if feedErr != nil {
		return feedErr
	}
	if len(errs) > 0 {
		return fmt.Errorf("google drive: %d files failed: %w", len(errs), errors.Join(errs...))
	}
	return nil
}

// importFile makes Drive hold one snapshot file: left alone when a copy
// with the same sha256 is there, uploaded otherwise; older copies miexit
// wrote at that path go once the new one is checked.
func (im *Importer) importFile(ctx context.Context, snap snapshot.Files, led *ledger.Ledger, rep progress.Reporter, fs *folders, e mapping.Entry) error {
	fs.mu.Lock()
	have := append([]*remoteFile(nil), fs.t.files[e.Path]...)
	fs.mu.Unlock()
	if len(have) == 0 {
		r, err := im.recorded(ctx, led, fs, e)
		if err != nil {
			return err
		}
		if r != nil {
			have = []*remoteFile{r}
		}
	}
	var keep *remoteFile
	var stale []*remoteFile
	for _, r := range have {
		if keep == nil && r.sha256() == e.SHA256 {
			keep = r
		} else {
			stale = append(stale, r)
		}
	}
	if keep != nil && len(stale) == 0 {
		im.report(rep, e.Kind, e.Path, progress.Unchanged, 0, nil)
		return led.Put(im.dest, e.Path, ledger.Record{SHA256: e.SHA256, Size: e.Size, RemoteID: keep.id})
	}
	if im.p.DryRun {
		im.report(rep, e.Kind, e.Path, progress.WouldCopy, e.Size, nil)
		return nil
	}
	id := ""
	var up *drive.File
	if keep != nil {
		id = keep.id
	} else {
		dir, err := fs.dir(ctx, path.Dir(e.Path))
		if err != nil {
			return err
		}
		meta := im.fileMeta(e, dir)
		var md string
		if e.Size >= im.threshold {
			up, md, err = im.uploadResumable(ctx, snap, led, e, meta)
		} else {
			up, md, err = im.uploadMultipart(ctx, snap, e, meta)
		}
		if err == nil {
			err = im.vouch(ctx, snap, e, up, md)
		}
		if err != nil {
			return fmt.Errorf("upload %s: %w", e.Path, err)
		}
		id = up.Id
	}
	// The new copy is checked: older ones miexit wrote there can go.
	for _, r := range stale {
		err := im.call(ctx, "delete old copy", func(ctx context.Context) error {
			return im.drive.Files.Delete(r.id).Context(ctx).Do()
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("upload %s: remove the older copy: %w", e.Path, err)
		}
	}
	// The tree now says what Drive holds at this path, for an Import
	// that goes on from a stream's tree (StreamFiles).
	now := keep
	if now == nil {
		// Checked and vouched for: by Drive's sha256, or by its md5
		// next to the sha256 recorded in appProperties.
		now = &remoteFile{id: id, path: e.Path, size: e.Size, md5: up.Md5Checksum, sha: up.Sha256Checksum,
			props: map[string]string{apSHA256: e.SHA256, apMD5: up.Md5Checksum}, modified: up.ModifiedTime}
	}
	fs.mu.Lock()
	fs.t.files[e.Path] = []*remoteFile{now}
	fs.mu.Unlock()
	if err := led.Put(im.dest, e.Path, ledger.Record{SHA256: e.SHA256, Size: e.Size, RemoteID: id, ModTime: e.Modified}); err != nil {
		return err
	}
	a := progress.Copied
	if keep != nil {
		a = progress.Unchanged
	}
	im.report(rep, e.Kind, e.Path, a, e.Size, nil)
	return nil
}

// recorded looks up, by its id, the file the ledger says this importer
// uploaded for e, when the listing does not show it. files.list is not
// read-after-write consistent (kopia/kopia#90 measured it missing files
// created a moment before) while files.get by id is, so a file uploaded
// just before this listing (by the last run, or by a repair right after
// a check that listed too soon) is kept, not uploaded a second time.
// A file trashed, moved or renamed since is not this path's.
func (im *Importer) recorded(ctx context.Context, led *ledger.Ledger, fs *folders, e mapping.Entry) (*remoteFile, error) {
	rec, ok, err := led.Get(im.dest, e.Path)
	if err != nil || !ok || rec.RemoteID == "" || rec.SHA256 != e.SHA256 {
		return nil, err
	}
	var f *drive.File
	err = im.call(ctx, "look up an uploaded file", func(ctx context.Context) error {
		var err error
		f, err = im.drive.Files.Get(rec.RemoteID).Fields(fileFields + ",trashed").Context(ctx).Do()
		return err
	})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: look up the file uploaded before: %w", e.Path, err)
	}
	if f.Trashed || f.AppProperties[apDest] != im.tag || f.Name != path.Base(e.Path) {
		return nil, nil
	}
	fs.mu.Lock()
	parent, known := fs.t.folders[path.Dir(e.Path)]
	fs.mu.Unlock()
	if known && (len(f.Parents) == 0 || f.Parents[0] != parent) {
		return nil, nil
	}
	r := &remoteFile{id: f.Id, path: e.Path, size: f.Size, md5: f.Md5Checksum, sha: f.Sha256Checksum, props: f.AppProperties, modified: f.ModifiedTime}
	if r.sha256() != e.SHA256 {
		return nil, nil
	}
	return r, nil
}

// Recheck implements importers.Rechecker: the file the ledger recorded for
// e, looked up by its id, when it is still this path's with e's bytes. A
// folder the last listing showed must be the file's parent; one it did not
// show (made a moment before, like the file) is not checked.
func (im *Importer) Recheck(ctx context.Context, e mapping.Entry, led *ledger.Ledger) (mapping.Remote, bool, error) {
	if im.drive == nil || led == nil || !snapshot.WholeFile(e.Kind) {
		return mapping.Remote{}, false, nil
	}
	if im.dest == "" {
		// A check by an importer that imported nothing: one account
		// lookup, not one a file. Verify calls Recheck one at a time.
		dest, err := importers.LedgerKey(ctx, im)
		if err != nil {
			return mapping.Remote{}, false, err
		}
		im.dest = dest
	}
	im.streamMu.Lock()
	t := im.listed
	im.streamMu.Unlock()
	if t == nil {
		t = &tree{folders: map[string]string{}}
	}
	r, err := im.recorded(ctx, led, &folders{im: im, t: t}, e)
	if err != nil || r == nil {
		return mapping.Remote{}, false, err
	}
	return r.remote(e.Kind, e.Path), true, nil
}

// ListWritten implements importers.WrittenLister. Drive's listing gives
// every file's sha256 as Drive computed it from what it holds, so nothing
// is read back either way: what it adds to List is the final check of a
// migrate comparing messages and calls record by record only when their
// document at Drive is not the snapshot's (see ReadsRecordsFrom).
func (im *Importer) ListWritten(ctx context.Context, kind mapping.Kind, _ *ledger.Ledger) iter.Seq2[mapping.Remote, error] {
	return im.List(ctx, kind)
}

// ReadsRecordsFrom implements importers.Rechecker: messages and calls are
// read back from their JSONL documents on Drive; contacts live in People.
func (im *Importer) ReadsRecordsFrom(k mapping.Kind) bool {
	return k == mapping.KindMessage || k == mapping.KindCall
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == 404
}

func (im *Importer) fileMeta(e mapping.Entry, dir string) *drive.File {
	props := map[string]string{apDest: im.tag, apKind: string(e.Kind), apSHA256: e.SHA256}
	if len(apKey)+len(e.Key) <= 124 && e.Key != e.Path {
		props[apKey] = e.Key
	}
	m := &drive.File{Name: path.Base(e.Path), Parents: []string{dir}, MimeType: mimeOf(e), AppProperties: props}
	if t := mediaTime(e); !t.IsZero() {
		m.ModifiedTime = t.UTC().Format(time.RFC3339Nano)
	}
	return m
}

// mediaTime is the date a file carries to Drive: when a photo was taken,
// else when the file was last changed.
func mediaTime(e mapping.Entry) time.Time {
	if !e.Taken.IsZero() {
		return e.Taken
	}
	return e.Modified
}

func mimeOf(e mapping.Entry) string {
	if e.MIME != "" {
		return e.MIME
	}
	if t := mime.TypeByExtension(path.Ext(e.Path)); t != "" {
		return t
	}
	switch path.Ext(e.Path) {
	case ".jsonl":
		return "application/x-ndjson"
	case ".md":
		return "text/markdown; charset=utf-8"
	case ".vcf":
		return "text/vcard"
	}
	return "application/octet-stream"
}

// vouch makes an uploaded file say its sha256 for later listings. Drive's
// own sha256Checksum does when it gives one, as it normally does, and then
// nothing more is sent. Without it only md5Checksum is promised, so the
// md5 (md, which check computed from the snapshot's bytes and compared
// with Drive's) is recorded next to the sha256 miexit wrote in
// appProperties: a later listing trusts that sha256 only while Drive's
// md5 still matches. Recording it afterwards, instead of in the upload's
// metadata, spares reading every file once more before it is sent (a
// multipart body comes after its metadata).
func (im *Importer) vouch(ctx context.Context, snap snapshot.Files, e mapping.Entry, f *drive.File, md string) error {
	if f.Sha256Checksum != "" || f.AppProperties[apMD5] != "" {
		return nil
	}
	if md == "" {
		var err error
		if md, _, err = localSums(snap, e.Path); err != nil {
			return err
		}
	}
	if f.Md5Checksum != md {
		return fmt.Errorf("Drive's md5Checksum %q differs from the snapshot file's %s", f.Md5Checksum, md)
	}
	return im.call(ctx, "record md5", func(ctx context.Context) error {
		_, err := im.drive.Files.Update(f.Id, &drive.File{AppProperties: map[string]string{apMD5: md}}).Fields("id").Context(ctx).Do()
		return err
	})
}

// localSums reads a snapshot file for its md5 and sha256.
func localSums(snap snapshot.Files, rel string) (md5sum, shasum string, err error) {
	f, err := snap.Open(rel)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	m, h := md5.New(), sha256.New()
	if _, err := fsutil.Copy(io.MultiWriter(m, h), f); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(h.Sum(nil)), nil
}

// check compares Drive's checksums of an uploaded file with the
// snapshot's; a mismatch removes the upload. When Drive gives its
// sha256Checksum and it is the manifest's, Drive holds exactly the
// snapshot's bytes and nothing is read again: the upload costs the upload
// alone. Otherwise (no sha256Checksum, or a mismatch to explain) the
// snapshot file is read once for its md5 and sha256, which it returns.
func (im *Importer) check(ctx context.Context, snap snapshot.Files, e mapping.Entry, f *drive.File) (string, error) {
	if f.Sha256Checksum != "" && f.Sha256Checksum == e.SHA256 {
		return "", nil
	}
	md5sum, shasum, err := localSums(snap, e.Path)
	if err != nil {
		return "", fmt.Errorf("check the upload against %s: %w", e.Path, err)
	}
	var why string
	switch {
	case shasum != e.SHA256:
		why = fmt.Sprintf("the snapshot file's sha256 is %s, the manifest says %s (was the snapshot changed?)", shasum, e.SHA256)
	case f.Sha256Checksum != "":
		why = fmt.Sprintf("Drive's sha256Checksum %s differs from the local %s", f.Sha256Checksum, shasum)
	case f.Md5Checksum == "":
		why = "Drive returned no md5Checksum"
	case f.Md5Checksum != md5sum:
		why = fmt.Sprintf("Drive's md5Checksum %s differs from the local %s", f.Md5Checksum, md5sum)
	}
	if why == "" {
		return md5sum, nil
	}
	im.call(ctx, "delete bad upload", func(ctx context.Context) error {
		return im.drive.Files.Delete(f.Id).Context(ctx).Do()
	})
	if shasum != e.SHA256 {
		return "", fmt.Errorf("%w: %s: %s", mapping.ErrBadInput, e.Path, why)
	}
	return "", fmt.Errorf("%s: %s", e.Path, why)
}

// uploadMultipart sends a small file in one request through the Go client
// (ChunkSize 0: one streamed multipart body, nothing buffered). A retry
// first looks up, by its id, the copy the failed try may have created.
func (im *Importer) uploadMultipart(ctx context.Context, snap snapshot.Files, e mapping.Entry, meta *drive.File) (*drive.File, string, error) {
	// The file's id is chosen before the first try (files.generateIds),
	// so a retry after a lost answer asks Drive for that id, which
	// files.get answers at once, instead of searching for the copy by
	// name, which a listing may not show yet (kopia/kopia#90).
	id, err := im.newID(ctx)
	if err != nil {
		return nil, "", err
	}
	var out *drive.File
	tries := 0
	err = im.call(ctx, "upload", func(ctx context.Context) error {
		if tries > 0 {
			f, err := im.drive.Files.Get(id).Fields(fileFields).Context(ctx).Do()
			if err == nil {
				out = f
				return nil
			}
			if !isNotFound(err) {
				return err
			}
		}
		tries++
		f, err := snap.Open(e.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		m := *meta
		m.Id = id
		// The client copies the file into its multipart pipe; from the
		// file itself that is a 32 KiB read and a pipe hand-off at a
		// time (os.File's WriteTo). Read through a 256 KiB buffer
		// (WriteTo hidden, so bufio's own is used), a photo is a read
		// or two: media -> fake Drive, miexit's CPU 0.52-0.57 ->
		// 0.47-0.50 s.
		br := mediaBufs.Get().(*bufio.Reader)
		defer func() { br.Reset(nil); mediaBufs.Put(br) }()
		br.Reset(struct{ io.Reader }{f})
		out, err = im.drive.Files.Create(&m).Media(br, googleapi.ChunkSize(0), googleapi.ContentType(meta.MimeType)).
			Fields(fileFields).Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, "", err
	}
	// A try that had in fact landed (found) is checked like any other.
	md, err := im.check(ctx, snap, e, out)
	return out, md, err
}

// mediaBufs hold the read buffers of multipart uploads, one for each
// upload at once.
var mediaBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

// newID takes an id for a new file from files.generateIds, asking for a
// hundred at a time.
func (im *Importer) newID(ctx context.Context) (string, error) {
	im.idMu.Lock()
	defer im.idMu.Unlock()
	if len(im.ids) == 0 {
		var got *drive.GeneratedIds
		err := im.call(ctx, "generate file ids", func(ctx context.Context) error {
			var err error
			got, err = im.drive.Files.GenerateIds().Count(100).Space("drive").Context(ctx).Do()
			return err
		})
		if err != nil {
			return "", fmt.Errorf("generate file ids: %w", err)
		}
		if len(got.Ids) == 0 {
			return "", errors.New("generate file ids: Drive gave none")
		}
		im.ids = got.Ids
	}
	id := im.ids[0]
	im.ids = im.ids[1:]
	return id, nil
}

// listFiles yields the whole files of one kind that Drive holds.
func (im *Importer) listFiles(ctx context.Context, kind mapping.Kind) iter.Seq2[mapping.Remote, error] {
	return im.ListKinds(ctx, []mapping.Kind{kind}, nil)
}

// ListKinds implements importers.KindsLister: the files of every kind
// come from one query on the destination's tag (loadTree), read once
// here for all of kinds. Drive's listing carries each file's sha256, so
// led is not needed.
func (im *Importer) ListKinds(ctx context.Context, kinds []mapping.Kind, _ *ledger.Ledger) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		t, err := im.loadTree(ctx)
		if err != nil {
			yield(mapping.Remote{}, err)
			return
		}
		im.streamMu.Lock()
		im.listed = t
		im.streamMu.Unlock()
		for _, p := range sortedKeys(t.files) {
			for _, f := range t.files[p] {
				kind := mapping.Kind(f.props[apKind])
				if !slices.Contains(kinds, kind) {
					continue
				}
				if !yield(f.remote(kind, p), nil) {
					return
				}
			}
		}
	}
}

// listRecords reads a JSONL document back from Drive and yields its
// records, so verify checks messages and calls one by one.
func (im *Importer) listRecords(ctx context.Context, kind mapping.Kind, doc string) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		t, err := im.loadTree(ctx)
		if err != nil {
			yield(mapping.Remote{}, err)
			return
		}
		fs := t.files[doc]
		if len(fs) == 0 {
			return
		}
		seen := map[string]bool{}
		for _, f := range fs {
			var body io.ReadCloser
			err := im.call(ctx, "download "+doc, func(ctx context.Context) error {
				resp, err := im.drive.Files.Get(f.id).Context(ctx).Download()
				if err != nil {
					return err
				}
				body = resp.Body
				return nil
			})
			if err != nil {
				yield(mapping.Remote{}, fmt.Errorf("google drive: %s: %w", doc, err))
				return
			}
			for r, err := range snapshot.RemoteRecords(kind, doc, body) {
				if err != nil {
					body.Close()
					yield(mapping.Remote{}, fmt.Errorf("google drive: %w", err))
					return
				}
				if seen[r.Key] {
					continue
				}
				seen[r.Key] = true
				if !yield(r, nil) {
					body.Close()
					return
				}
			}
			body.Close()
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
