// Package micloud exports a person's Mi Cloud data through the i.mi.com web
// service (REFERENCE.md, "Mi Cloud web service"): Cloud Album originals,
// notes with their images, recordings and contacts. SMS are only counted:
// the web service lists each thread's last message, not the messages.
//
// # Signing in
//
// Xiaomi's password login meets captchas and second verification, so the
// person pastes two cookies once, and miexit mints the short-lived
// serviceToken itself (again whenever one dies, mid-run included):
//
//  1. In a desktop browser, open https://i.mi.com, sign in, open Cloud
//     Album (Gallery) once and tick "trust this device" if asked.
//  2. Open the browser's developer tools (F12), Application (Chrome) or
//     Storage (Firefox) > Cookies > https://account.xiaomi.com.
//  3. Copy the values of the cookies userId and passToken, and give them
//     to `miexit auth micloud` (SaveAuth). They are stored 0600 in the
//     config dir and never printed. Signing out in that browser kills the
//     passToken: close the tab instead.
//
// `--region cn|us|eu|in` (SetRegion) picks the host; "micloud:us" picks it
// for one run. MIEXIT_MICLOUD_ENDPOINT (a base URL replacing the host),
// MIEXIT_MICLOUD_USERID and MIEXIT_MICLOUD_PASSTOKEN override the stored
// values; MIEXIT_DEBUG_HTTP=1 logs requests (no cookies, tokens or
// signatures) and the shape of each answer (keys, not values).
package micloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/ordered"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// EnvDebugHTTP turns on --debug-http for the registered scheme: requests
// and responses are logged at debug level with cookies and tokens removed.
const EnvDebugHTTP = "MIEXIT_DEBUG_HTTP"

func init() {
	exporters.Register("micloud", func(ctx context.Context, p exporters.Params) (exporters.Exporter, error) {
		cred, err := LoadCredentials(p.ConfigDir)
		if err != nil {
			return nil, err
		}
		// "micloud:us" picks a region for this run only.
		if p.Arg != "" {
			r := strings.ToLower(p.Arg)
			if _, ok := Regions[r]; !ok {
				return nil, fmt.Errorf("%w: unknown Mi Cloud region %q (use cn, us, eu or in)", mapping.ErrBadInput, p.Arg)
			}
			cred.Region = r
		}
		cfg := Config{Credentials: cred, Log: p.Log, DebugHTTP: os.Getenv(EnvDebugHTTP) != "", Concurrency: p.Concurrency}
		if p.StateDir != "" {
			cfg.CacheDir = filepath.Join(p.StateDir, "micloud", SafeUserDir(cred.UserID))
		}
		return New(cfg)
	})
}

// Downloads at once: the default, and the most the tools that know the
// service risk (REFERENCE.md: about 10 requests/s, 8 downloads at once).
const (
	DefaultConcurrency = 4
	MaxConcurrency     = 8
)

// Config builds an Exporter.
type Config struct {
	Credentials Credentials
	// HTTPClient is the transport (tests pass the fake's); redirects are
	// always read by hand whatever its policy.
	HTTPClient *http.Client
	Log        *slog.Logger
	// DebugHTTP logs every request and response at debug level on Log,
	// without cookies, tokens or signatures.
	DebugHTTP bool
	// MinInterval spaces request starts (default 100 ms: about 10/s);
	// negative means no pacing.
	MinInterval time.Duration
	// Concurrency is the number of downloads at once (default 4, at most
	// MaxConcurrency).
	Concurrency int
	// PageSize is the page size asked of list calls (default 100; notes
	// 200, contacts 400 when unset).
	PageSize int
	// Retry is the backoff on 5xx and resets (default: 8 attempts from 500 ms).
	Retry retry.Policy
	// CacheDir, when set, keeps each note's text with its modifyDate so a
	// re-run fetches only notes that changed (files 0600: personal data).
	CacheDir string
}

// SafeUserDir turns a user id into a folder name.
func SafeUserDir(userID string) string { return snapshot.SafeName(userID, "account") }

// Exporter reads one Mi Cloud account.
type Exporter struct {
	c    *client
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	last CloudCounts
	have bool
	rep  Report
}

// CloudCounts are what inventory --json adds to mapping.Counts for Mi
// Cloud: recordings and Cloud Album items (both inside Counts.Media), note
// images, and the messages the cloud holds but miexit cannot copy.
type CloudCounts struct {
	Gallery    int `json:"gallery"`
	Recordings int `json:"recordings"`
	NoteImages int `json:"note_images"`
	// CloudMessages is the sum of the SMS thread totals; copy them from the
	// phone or a MIUI backup before signing out.
	CloudMessages       int `json:"cloud_messages"`
	CloudMessageThreads int `json:"cloud_message_threads"`
}

// Report lists what the last Export could not take or had to change.
type Report struct {
	// Deleted names gallery items or recordings the service says were
	// deleted (code 50050) between listing and download.
	Deleted []string
	// Renamed maps server names that were unsafe or collided to the path
	// used in the snapshot.
	Renamed map[string]string
	// MissingNoteFiles are note attachments the service answered 404 for.
	MissingNoteFiles []string
	// UnknownRecordings are recordings whose name had an unknown type or
	// no suffix; they keep their listed name.
	UnknownRecordings []string
	Cloud             CloudCounts
}

// New builds an exporter from explicit settings.
func New(cfg Config) (*Exporter, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = 100 * time.Millisecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Concurrency > MaxConcurrency {
		cfg.Log.Info("Mi Cloud takes at most 8 downloads at once; using 8", "jobs", cfg.Concurrency)
		cfg.Concurrency = MaxConcurrency
	}
	if cfg.Credentials.UserID == "" || cfg.Credentials.PassToken == "" {
		return nil, ErrNoCredentials
	}
	if cfg.Credentials.DeviceID == "" {
		cfg.Credentials.DeviceID = newDeviceID()
	}
	c, err := newClient(cfg.Credentials, cfg)
	if err != nil {
		return nil, err
	}
	return &Exporter{c: c, cfg: cfg, log: cfg.Log}, nil
}

// Name is the account's user id.
func (e *Exporter) Name() string { return "micloud-" + e.cfg.Credentials.UserID }

// Logins is how many serviceTokens this exporter has minted.
func (e *Exporter) Logins() int {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	return e.c.logins
}

// LastReport is what the last Export skipped or renamed.
func (e *Exporter) LastReport() Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rep
}

func (e *Exporter) pageSize(def int) int {
	if e.cfg.PageSize > 0 {
		return e.cfg.PageSize
	}
	return def
}

// CloudCounts returns the Mi Cloud extras of the last Inventory or Export,
// running an inventory when there was none.
func (e *Exporter) CloudCounts(ctx context.Context) (CloudCounts, error) {
	e.mu.Lock()
	cc, have := e.last, e.have
	e.mu.Unlock()
	if have {
		return cc, nil
	}
	if _, err := e.Inventory(ctx); err != nil {
		return CloudCounts{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last, nil
}

// ExtraCounts is CloudCounts as plain names, for callers that merge it into
// inventory --json without importing this package (found by type
// assertion on interface{ ExtraCounts(context.Context) (map[string]int, error) }).
func (e *Exporter) ExtraCounts(ctx context.Context) (map[string]int, error) {
	cc, err := e.CloudCounts(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]int{"gallery": cc.Gallery, "recordings": cc.Recordings, "note_images": cc.NoteImages,
		"cloud_messages": cc.CloudMessages, "cloud_message_threads": cc.CloudMessageThreads}, nil
}

func (e *Exporter) setCloud(cc CloudCounts) {
	e.mu.Lock()
	e.last, e.have = cc, true
	e.mu.Unlock()
}

// Inventory lists everything and counts it; it downloads nothing.
func (e *Exporter) Inventory(ctx context.Context) (mapping.Counts, error) {
	var n mapping.Counts
	var cc CloudCounts
	for p, err := range e.c.contacts(ctx, e.pageSize(400)) {
		if err != nil {
			return n, err
		}
		n.Contacts += len(p.IDs)
	}
	for p, err := range e.c.notes(ctx, e.pageSize(200)) {
		if err != nil {
			return n, err
		}
		for _, en := range p.Entries {
			n.Notes++
			cc.NoteImages += len(en.Setting.Data)
		}
	}
	for a, err := range e.c.albums(ctx, e.pageSize(100)) {
		if err != nil {
			return n, err
		}
		for _, err := range e.c.galleries(ctx, string(a.AlbumID), e.pageSize(100)) {
			if err != nil {
				return n, err
			}
			cc.Gallery++
		}
	}
	for _, err := range e.c.recordings(ctx, e.pageSize(100)) {
		if err != nil {
			return n, err
		}
		cc.Recordings++
	}
	t, m, err := e.c.smsTotals(ctx, e.pageSize(100))
	if err != nil {
		return n, err
	}
	cc.CloudMessageThreads, cc.CloudMessages = t, m
	n.Media = cc.Gallery + cc.Recordings
	e.setCloud(cc)
	return n, nil
}

// Export writes contacts, notes, Cloud Album items and recordings into w,
// and counts the cloud's SMS. Unchanged media are not downloaded again.
func (e *Exporter) Export(ctx context.Context, w *snapshot.Writer) error {
	x := &export{e: e, w: w, used: map[string]bool{}, rep: Report{Renamed: map[string]string{}}}
	if err := x.contacts(ctx); err != nil {
		return err
	}
	if err := x.notes(ctx); err != nil {
		return err
	}
	prev, err := previousMedia(w.Dir())
	if err != nil {
		return err
	}
	x.prev = prev
	q := newQueue(ctx, x, e.cfg.Concurrency)
	if err := x.gallery(ctx, q); err != nil {
		q.abort()
		return err
	}
	if err := x.recordings(ctx, q); err != nil {
		q.abort()
		return err
	}
	if err := q.finish(); err != nil {
		return err
	}
	t, m, err := e.c.smsTotals(ctx, e.pageSize(100))
	if err != nil {
		return err
	}
	x.rep.Cloud.CloudMessageThreads, x.rep.Cloud.CloudMessages = t, m
	if m > 0 {
		e.log.Warn("Mi Cloud holds SMS that the web service cannot hand over: copy them from the phone or a MIUI backup before signing out",
			"messages", m, "threads", t)
	}
	e.setCloud(x.rep.Cloud)
	e.mu.Lock()
	e.rep = x.rep
	e.mu.Unlock()
	return nil
}

// export is the state of one Export run.
type export struct {
	e    *Exporter
	w    *snapshot.Writer
	prev map[string]mapping.Entry
	mu   sync.Mutex
	used map[string]bool // lower-cased media paths taken in this run
	rep  Report
}

func (x *export) contacts(ctx context.Context) error {
	for p, err := range x.e.c.contacts(ctx, x.e.pageSize(400)) {
		if err != nil {
			return err
		}
		for _, id := range p.IDs {
			c, err := contactCard(id, p.Content[id], p.Groups)
			if err != nil {
				return err
			}
			if err := x.w.AddContact(ctx, c); err != nil {
				return fmt.Errorf("contact %s: %w", id, err)
			}
		}
	}
	return nil
}

var imageExt = map[string]string{"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png", "image/gif": ".gif",
	"image/webp": ".webp", "image/heic": ".heic", "audio/mp3": ".mp3", "audio/mpeg": ".mp3", "audio/amr": ".amr", "audio/aac": ".aac"}

func (x *export) notes(ctx context.Context) error {
	folders := map[string]string{}
	done := map[string]string{} // file id -> snapshot path, for files shared by notes
	// The listing is read whole first (metadata only, small) because a
	// folder may be named on a later page than its notes.
	var all []noteEntry
	for p, err := range x.e.c.notes(ctx, x.e.pageSize(200)) {
		if err != nil {
			return err
		}
		for _, f := range p.Folders {
			folders[string(f.ID)] = f.Subject
		}
		all = append(all, p.Entries...)
	}
	// Each note's text and attachments are fetched up to Concurrency at
	// once, ahead of the writer, which adds the notes in listing order as
	// a one-at-a-time run would.
	n := x.e.cfg.Concurrency
	q := ordered.New[*fetchedNote](ctx, ordered.Options{Workers: n, Ahead: 2 * n})
	defer q.Stop()
	go func() {
		defer q.Close()
		for _, en := range all {
			if q.Go(func(ctx context.Context) (*fetchedNote, error) { return x.fetchNote(ctx, en) }) != nil {
				return
			}
		}
	}()
	for {
		fn, ok, err := q.Next()
		if !ok {
			return ctx.Err()
		}
		if err == nil {
			err = x.note(ctx, fn, folders, done)
		}
		fn.release()
		if err != nil {
			q.Drain((*fetchedNote).release)
			return err
		}
	}
}

// fetchedNote is a note with its text and attachments downloaded.
type fetchedNote struct {
	en      noteEntry
	content string
	files   map[string]fetchedFile // by file id
}

type fetchedFile struct {
	rel string
	rc  io.ReadCloser
	err error
}

// release closes (and so removes) the downloads the writer did not take.
func (fn *fetchedNote) release() {
	if fn == nil {
		return
	}
	for id, f := range fn.files {
		if f.rc != nil {
			f.rc.Close()
		}
		delete(fn.files, id)
	}
}

func noteFileRel(fileID, mime string) string {
	return snapshot.NoteFilesDir + "/" + snapshot.SafeName(fileID, "file") + imageExt[strings.ToLower(mime)]
}

// fetchNote reads a note's text (from the cache when unchanged) and
// downloads its attachments. A file shared with a note fetched at the same
// time may be downloaded twice; the writer keeps one.
func (x *export) fetchNote(ctx context.Context, en noteEntry) (*fetchedNote, error) {
	id := string(en.ID)
	fn := &fetchedNote{en: en, files: map[string]fetchedFile{}}
	content, ok := x.e.cachedNote(id, int64(en.ModifyDate))
	if !ok {
		var err error
		content, err = x.e.c.noteContent(ctx, id)
		if err != nil {
			return nil, err
		}
		x.e.cacheNote(id, int64(en.ModifyDate), content)
	}
	fn.content = content
	for _, f := range en.Setting.Data {
		if f.FileID == "" {
			continue
		}
		if _, dup := fn.files[f.FileID]; dup {
			continue
		}
		rel := noteFileRel(f.FileID, f.MimeType)
		rc, err := x.openNoteFile(ctx, rel, f.FileID, f.Digest)
		if err != nil && !errors.Is(err, errMissingFile) {
			fn.release()
			return nil, fmt.Errorf("note %s: %w", id, err)
		}
		fn.files[f.FileID] = fetchedFile{rel: rel, rc: rc, err: err}
	}
	return fn, nil
}

func (x *export) note(ctx context.Context, fn *fetchedNote, folders map[string]string, done map[string]string) error {
	en, content := fn.en, fn.content
	id := string(en.ID)
	var extra struct {
		Title string `json:"title"`
	}
	if en.ExtraInfo != "" {
		json.Unmarshal([]byte(en.ExtraInfo), &extra)
	}
	title := firstNonEmpty(extra.Title, en.Subject, plainTitle(content), "Untitled")
	folder := ""
	if fid := string(en.FolderID); fid != "" && fid != "0" {
		folder = firstNonEmpty(folders[fid], "Folder "+fid)
	}
	up := "../"
	if snapshot.SafeName(folder, "") == "" {
		up = ""
	}
	links := map[string]string{}
	for _, f := range en.Setting.Data {
		if f.FileID == "" {
			continue
		}
		rel, ok := done[f.FileID]
		if !ok {
			ff, fetched := fn.files[f.FileID]
			if !fetched {
				// A second mention in this note of a file that was lost.
				continue
			}
			delete(fn.files, f.FileID)
			rel = ff.rel
			if errors.Is(ff.err, errMissingFile) {
				// The note keeps a visible mark where the image was.
				x.w.Skip(mapping.KindFile, rel, fmt.Sprintf("note %q: Mi Cloud no longer has this attachment", title))
				x.rep.MissingNoteFiles = append(x.rep.MissingNoteFiles, rel)
				continue
			}
			_, err := x.w.AddFile(ctx, rel, ff.rc, time.UnixMilli(int64(en.ModifyDate)))
			ff.rc.Close()
			if err != nil {
				return fmt.Errorf("note %s (%q): %w", id, title, err)
			}
			done[f.FileID] = rel
		}
		links[f.FileID] = up + strings.TrimPrefix(rel, snapshot.NotesDir+"/")
	}
	body := noteMarkdown(content, func(fid string) string { return links[fid] })
	n := mapping.Note{Key: "micloud-note-" + id, Folder: folder, Title: title, Body: body, Deleted: en.Status == "deleted"}
	if en.CreateDate > 0 {
		n.Created = time.UnixMilli(int64(en.CreateDate)).UTC()
	}
	if en.ModifyDate > 0 {
		n.Modified = time.UnixMilli(int64(en.ModifyDate)).UTC()
	}
	if err := x.w.AddNote(ctx, n); err != nil {
		return fmt.Errorf("note %s (%q): %w", id, title, err)
	}
	return nil
}

type cachedNote struct {
	ModifyDate int64  `json:"modifyDate"`
	Content    string `json:"content"`
}

func (e *Exporter) notePath(id string) string {
	return filepath.Join(e.cfg.CacheDir, "notes", snapshot.SafeName(id, "note")+".json")
}

// cachedNote returns a note's text kept by an earlier run, if the note has
// not been modified since.
func (e *Exporter) cachedNote(id string, modified int64) (string, bool) {
	if e.cfg.CacheDir == "" || modified <= 0 {
		return "", false
	}
	b, err := os.ReadFile(e.notePath(id))
	if err != nil {
		return "", false
	}
	var c cachedNote
	if json.Unmarshal(b, &c) != nil || c.ModifyDate != modified {
		return "", false
	}
	return c.Content, true
}

// cacheNote keeps a note's text; a failure only costs a fetch next time.
func (e *Exporter) cacheNote(id string, modified int64, content string) {
	if e.cfg.CacheDir == "" || modified <= 0 {
		return
	}
	b, err := json.Marshal(cachedNote{ModifyDate: modified, Content: content})
	if err != nil {
		return
	}
	dst := e.notePath(id)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		e.log.Debug("note cache", "err", err)
		return
	}
	f, err := fsutil.CreateTemp(dst)
	if err != nil {
		e.log.Debug("note cache", "err", err)
		return
	}
	if err := f.Chmod(0o600); err != nil {
		fsutil.Abort(f)
		return
	}
	if _, err := f.Write(b); err != nil {
		fsutil.Abort(f)
		return
	}
	if err := fsutil.Commit(f, dst, false); err != nil {
		e.log.Debug("note cache", "err", err)
	}
}

// openNoteFile opens one note attachment, reusing the snapshot's copy when
// it already holds these bytes (digest is their sha1), so a re-run
// downloads nothing.
func (x *export) openNoteFile(ctx context.Context, rel, fileID, digest string) (io.ReadCloser, error) {
	dst := filepath.Join(x.w.Dir(), filepath.FromSlash(rel))
	if digest != "" {
		if f, err := os.Open(dst); err == nil {
			if sum, err := sha1File(f); err == nil && strings.EqualFold(sum, digest) {
				if _, err := f.Seek(0, io.SeekStart); err == nil {
					return f, nil
				}
			}
			f.Close()
		}
	}
	return x.e.c.noteFile(ctx, fileID, dst, digest)
}

// mediaPath makes a unique, safe snapshot path for a server-given folder
// and file name, recording any change in the report.
func (x *export) mediaPath(folder, name, fallback, id string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	file := snapshot.SafeName(name, "")
	if file == "" {
		file = fallback
	}
	p := folder + "/" + file
	if x.used[strings.ToLower(p)] {
		ext := path.Ext(file)
		p = folder + "/" + strings.TrimSuffix(file, ext) + " (" + id + ")" + ext
	}
	for i := 2; x.used[strings.ToLower(p)]; i++ {
		ext := path.Ext(file)
		p = fmt.Sprintf("%s/%s (%s-%d)%s", folder, strings.TrimSuffix(file, ext), id, i, ext)
	}
	x.used[strings.ToLower(p)] = true
	if path.Base(p) != name {
		x.rep.Renamed[folder+"/"+name] = p
	}
	return p
}

// albumFolder names an album's folder: its name, or the system album's.
func albumFolder(a album, taken map[string]bool) string {
	id := string(a.AlbumID)
	name := a.Name
	if strings.TrimSpace(name) == "" {
		switch id {
		case "1":
			name = "Camera"
		case "2":
			name = "Screenshots"
		case "1000":
			name = "Private"
		default:
			name = "Album " + id
		}
	}
	f := snapshot.SafeName(name, "Album "+id)
	if taken[strings.ToLower(f)] {
		f = f + " (" + id + ")"
	}
	taken[strings.ToLower(f)] = true
	return f
}

func (x *export) gallery(ctx context.Context, q *queue) error {
	var albums []album
	for a, err := range x.e.c.albums(ctx, x.e.pageSize(100)) {
		if err != nil {
			return err
		}
		albums = append(albums, a)
	}
	taken := map[string]bool{"recordings": true}
	for _, a := range albums {
		folder := albumFolder(a, taken)
		for g, err := range x.e.c.galleries(ctx, string(a.AlbumID), x.e.pageSize(100)) {
			if err != nil {
				return err
			}
			x.rep.Cloud.Gallery++
			id := string(g.ID)
			p := x.mediaPath(folder, g.FileName, id, id)
			date := firstTime(ms(g.DateTaken), ms(g.DateModified), ms(g.CreateTime))
			m := mapping.Media{Path: p, Size: int64(g.Size), ModTime: date, Taken: date, SHA1: g.SHA1}
			if g.Size <= 0 {
				m.Size = -1
			}
			item := id
			if err := q.add(ctx, m, func(ctx context.Context, dst string) (io.ReadCloser, error) {
				return x.e.c.storageDownload(ctx, "gallery item "+item+" ("+p+")", func(ctx context.Context) (string, error) {
					return x.e.c.galleryURL(ctx, item)
				}, dst, m.SHA1, m.Size)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordingName restores a recording's real name from the listed
// "<base>.<ext>_<n>_<type>_<id>_<created ms>"; ok is false when the name
// does not have that form or the type is unknown.
func recordingName(listed string) (name string, kind string, ok bool) {
	parts := strings.Split(listed, "_")
	if len(parts) < 5 {
		return listed, "", false
	}
	tail := parts[len(parts)-4:]
	for _, t := range tail {
		if t == "" || strings.Trim(t, "0123456789") != "" {
			return listed, "", false
		}
	}
	base := strings.Join(parts[:len(parts)-4], "_")
	if base == "" || path.Ext(base) == "" {
		return listed, "", false
	}
	switch tail[1] {
	case "0":
		kind = "recorder"
	case "1":
		kind = "call"
	case "2":
		kind = "fm"
	case "3":
		kind = "app"
	default:
		return listed, "", false
	}
	return base, kind, true
}

func (x *export) recordings(ctx context.Context, q *queue) error {
	for r, err := range x.e.c.recordings(ctx, x.e.pageSize(100)) {
		if err != nil {
			return err
		}
		x.rep.Cloud.Recordings++
		id := string(r.ID)
		name, _, ok := recordingName(r.Name)
		if !ok {
			x.rep.UnknownRecordings = append(x.rep.UnknownRecordings, r.Name)
			x.e.log.Warn("recording name not understood; keeping it as listed", "name", r.Name)
		}
		p := x.mediaPath("Recordings", name, "recording-"+id, id)
		date := ms(r.CreateTime)
		m := mapping.Media{Path: p, Size: int64(r.Size), ModTime: date, Taken: date, SHA1: r.SHA1}
		if r.Size <= 0 {
			m.Size = -1
		}
		if err := q.add(ctx, m, func(ctx context.Context, dst string) (io.ReadCloser, error) {
			return x.e.c.storageDownload(ctx, "recording "+id+" ("+p+")", func(ctx context.Context) (string, error) {
				return x.e.c.recordingURL(ctx, id)
			}, dst, m.SHA1, m.Size)
		}); err != nil {
			return err
		}
	}
	return nil
}

func ms(v flexInt) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v)).UTC()
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func isDeleted(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == codeDeleted
}
