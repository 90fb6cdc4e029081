// Package snapshot writes and reads miexit's normalized on-disk form: a plain
// folder a person can open, which is also the local backup and the input of
// every importer.
//
//	contacts/contacts.vcf              vCard 4.0, one card per contact
//	messages/messages.jsonl            one mapping.Message per line
//	messages/sms-backup-restore.xml    the same messages for Android restore apps
//	messages/attachments/...           MMS parts
//	calls/calls.jsonl                  one mapping.Call per line
//	calls/calls-backup-restore.xml     the same calls for restore apps
//	notes/<folder>/<title>.md          one note per file
//	media/<original relative path>     photos, videos, recordings, byte-exact
//	manifest.json                      every item: kind, key, path, size, sha256, dates
//
// Every file is written to a temp file and renamed into place; the manifest
// is written last, so a snapshot whose export was killed still has its old,
// consistent manifest.
package snapshot

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/mapping"
	"github.com/miexit/miexit/mapping/media"
	"github.com/miexit/miexit/mapping/smsxml"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

// Paths of the documents inside a snapshot.
const (
	ContactsPath     = "contacts/contacts.vcf"
	MessagesPath     = "messages/messages.jsonl"
	SMSXMLPath       = "messages/sms-backup-restore.xml"
	CallsPath        = "calls/calls.jsonl"
	CallsXMLPath     = "calls/calls-backup-restore.xml"
	ManifestPath     = "manifest.json"
	MediaDir         = "media"
	NotesDir         = "notes"
	AttachmentsDir   = "messages/attachments"
	NoteFilesDir     = "notes/_files"
	KeyField         = "X-MIEXIT-KEY"
	manifestVersion  = 1
	maxMessageBytes  = 64 << 20
	spoolBufferBytes = 64 << 10
)

// Options configure a Writer.
type Options struct {
	// Source is recorded in the manifest ("archive:/path", "adb:SERIAL").
	Source   string
	Log      *slog.Logger
	Progress progress.Reporter
	// DryRun counts and reports what an export would write, writing nothing.
	DryRun bool
	// LinkLocal lets media that are files on this computer (Media.Local)
	// enter the snapshot as hard links, read once to hash them and never
	// written: migrate then costs one copy, not two. Off, the snapshot is
	// a copy independent of the source.
	LinkLocal bool
	// SourceState is recorded in the manifest (see exporters.Stater).
	SourceState string
	// MediaAdded, when set, is called with each media entry once its
	// file is in place under its final name (copied, linked, or kept from
	// the previous export), before the manifest lists it: migrate starts
	// importing it there. It is called from the goroutine that added the
	// entry, without the Writer's lock held; while it blocks, that Add
	// waits.
	MediaAdded func(mapping.Entry)
}

// Writer builds a snapshot. Its Add methods are safe for concurrent use; the
// snapshot only changes for readers when Commit writes the manifest.
type Writer struct {
	dir  string
	opt  Options
	log  *slog.Logger
	prev map[string]mapping.Entry // previous manifest, by path, for incremental export

	mu       sync.Mutex
	entries  *spool
	lanes    []*Lane                            // in the order they were started
	placed   []*Lane                            // in the order they were placed
	keys     map[mapping.Kind]map[[16]byte]bool // by keyHash: 100,000 SMS keys add up
	paths    map[string]bool
	counts   mapping.Counts
	docs     map[string]*doc
	skipped  int      // unchanged media reused from the previous export
	thumbs   []string // the first MaxThumbnailItems reduced copies met
	closed   bool
	notified map[string]bool
}

// doc is one aggregate document being written (contacts, messages, calls).
type doc struct {
	f   *os.File
	buf *bufio.Writer
	// xml holds the body of the matching B&R XML document, if any.
	xml     *os.File
	xmlBody *smsxml.BodyWriter
	n       int
}

// Create opens dir as a snapshot to (re)write. The previous manifest, if
// any, lets unchanged media be skipped.
func Create(dir string, opt Options) (*Writer, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Progress == nil {
		opt.Progress = progress.Discard
	}
	w := &Writer{
		dir:      dir,
		opt:      opt,
		log:      opt.Log,
		prev:     map[string]mapping.Entry{},
		keys:     map[mapping.Kind]map[[16]byte]bool{},
		paths:    map[string]bool{},
		docs:     map[string]*doc{},
		notified: map[string]bool{},
	}
	if opt.DryRun {
		if r, err := Open(dir); err == nil {
			w.loadPrev(r)
		}
		return w, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	// A half-copied video a killed export left can be large.
	if err := fsutil.SweepTemps(context.Background(), dir, w.log); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if r, err := Open(dir); err == nil {
		w.loadPrev(r)
	} else if !errors.Is(err, os.ErrNotExist) {
		// A damaged manifest only costs the incremental shortcut.
		w.log.Warn("previous manifest unreadable; copying everything again", "dir", dir, "err", err)
	}
	sp, err := newSpool(dir)
	if err != nil {
		return nil, err
	}
	w.entries = sp
	return w, nil
}

func (w *Writer) loadPrev(r *Reader) {
	for e, err := range r.EntriesOf(WholeFile) {
		if err != nil {
			w.log.Warn("previous manifest unreadable; copying everything again", "err", err)
			clear(w.prev)
			return
		}
		if e.Kind == mapping.KindMedia || e.Kind == mapping.KindFile {
			w.prev[e.Path] = e
		}
	}
}

// Dir is the snapshot's folder.
func (w *Writer) Dir() string { return w.dir }

// Counts is what has been added so far.
func (w *Writer) Counts() mapping.Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts
}

// Unchanged is how many media files were kept from the previous export.
func (w *Writer) Unchanged() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.skipped
}

func (w *Writer) report(e progress.Event) {
	e.Phase = "export"
	w.opt.Progress.Report(e)
}

// claim records key for kind, reporting false when it was already added:
// the same message from two sources (or twice in one) is stored once.
func (w *Writer) claim(kind mapping.Kind, key string) bool {
	m := w.keys[kind]
	if m == nil {
		m = map[[16]byte]bool{}
		w.keys[kind] = m
	}
	h := keyHash(key)
	if m[h] {
		return false
	}
	m[h] = true
	return true
}

// keyHash is the first 16 bytes of key's sha256: claim keeps it instead of
// the key, which often pins the whole source path; a collision would take
// 2^64 keys.
func keyHash(key string) [16]byte {
	sum := sha256.Sum256([]byte(key))
	return [16]byte(sum[:16])
}

func (w *Writer) openDoc(rel string, xmlBody bool) (*doc, error) {
	if d := w.docs[rel]; d != nil {
		return d, nil
	}
	d := &doc{}
	if !w.opt.DryRun {
		dst := filepath.Join(w.dir, filepath.FromSlash(rel))
		f, err := fsutil.CreateTemp(dst)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", rel, err)
		}
		d.f = f
		d.buf = bufio.NewWriterSize(f, spoolBufferBytes)
		if xmlBody {
			x, err := fsutil.CreateTemp(dst)
			if err != nil {
				fsutil.Abort(f)
				return nil, fmt.Errorf("snapshot %s: %w", rel, err)
			}
			d.xml = x
			d.xmlBody = smsxml.NewBodyWriter(x)
		}
	}
	w.docs[rel] = d
	return d, nil
}

// AddContact adds one contact to contacts/contacts.vcf as vCard 4.0. The
// card gains an X-MIEXIT-KEY field holding its key, so a destination's copy
// can be checked contact by contact.
func (w *Writer) AddContact(ctx context.Context, c mapping.Contact) error {
	return w.addContact(ctx, nil, c)
}

func (w *Writer) addContact(ctx context.Context, l *Lane, c mapping.Contact) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	card := cloneCard(c.Card)
	delete(card, KeyField)
	if c.Key == "" {
		c.Key = mvcard.Key(card)
	}
	card.SetValue(KeyField, c.Key)
	// mapping/vcard writes 4.0 as the RFC says (go-vcard's encoder escapes
	// commas inside photo data: URIs, which other apps then cannot read).
	var rec bytes.Buffer
	if err := mvcard.Encode(&rec, card, mvcard.V4); err != nil {
		return fmt.Errorf("contact %q: %w", cardName(card), err)
	}
	return w.addRecordEncoded(l, mapping.KindContact, c.Key, ContactsPath, rec.Bytes(), nil, nil)
}

// AddMessage adds one SMS or MMS. MMS parts with bytes must be added first
// with AddFile and referenced by Part.File.
func (w *Writer) AddMessage(ctx context.Context, m mapping.Message) error {
	p, err := PrepareMessage(m)
	if err != nil {
		return err
	}
	return w.AddPrepared(ctx, p)
}

// PreparedMessage is a message encoded for the snapshot by
// PrepareMessage, which any goroutine may call, so that AddPrepared, which
// must run in the messages' order, only writes.
type PreparedMessage struct {
	m     mapping.Message
	line  []byte
	entry []byte // its manifest entry, encoded
}

// PrepareMessage fills in a message's type and key and encodes its JSON
// line and manifest entry.
func PrepareMessage(m mapping.Message) (*PreparedMessage, error) {
	if m.Type == "" {
		m.Type = "sms"
	}
	if m.Key == "" {
		m.Key = mapping.MessageKey(&m)
	}
	line, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", m.Key, err)
	}
	if len(line) > maxMessageBytes {
		return nil, fmt.Errorf("%w: message %s is %d bytes, over the %d limit", mapping.ErrBadInput, m.Key, len(line), maxMessageBytes)
	}
	line = append(line, '\n')
	sum := sha256.Sum256(line)
	entry, err := json.Marshal(mapping.Entry{Kind: mapping.KindMessage, Key: m.Key, Path: MessagesPath, Size: int64(len(line)), SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		return nil, err
	}
	return &PreparedMessage{m: m, line: line, entry: append(entry, '\n')}, nil
}

// AddPrepared adds a message made by PrepareMessage.
func (w *Writer) AddPrepared(ctx context.Context, p *PreparedMessage) error {
	return w.addPrepared(ctx, nil, p)
}

func (w *Writer) addPrepared(ctx context.Context, l *Lane, p *PreparedMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return w.addRecordEncoded(l, mapping.KindMessage, p.m.Key, MessagesPath, p.line, p.entry, func(b *smsxml.BodyWriter) error {
		return b.Message(&p.m, w.openAttachment)
	})
}

// AddCall adds one call-log row.
func (w *Writer) AddCall(ctx context.Context, c mapping.Call) error {
	return w.addCall(ctx, nil, c)
}

func (w *Writer) addCall(ctx context.Context, l *Lane, c mapping.Call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Key == "" {
		c.Key = mapping.CallKey(&c)
	}
	line, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("call %s: %w", c.Key, err)
	}
	line = append(line, '\n')
	return w.addRecordEncoded(l, mapping.KindCall, c.Key, CallsPath, line, nil, func(b *smsxml.BodyWriter) error {
		return b.Call(&c)
	})
}

func (w *Writer) openAttachment(rel string) (io.ReadCloser, error) {
	p, err := fsutil.Join(w.dir, rel)
	if err != nil {
		return nil, err
	}
	return fsutil.Open(p)
}

// addRecordEncoded adds one record to its document rel and its entry to
// the manifest (to lane l's part of it, when l is not nil): entry already
// encoded (by a PrepareMessage on another goroutine), or nil to encode it
// here.
func (w *Writer) addRecordEncoded(l *Lane, kind mapping.Kind, key, rel string, rec, entry []byte, xml func(*smsxml.BodyWriter) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("snapshot: writer already committed")
	}
	sp := w.entries
	if l != nil {
		sp = l.sp
	}
	if !w.claim(kind, key) {
		w.report(progress.Event{Kind: kind, Item: key, Action: progress.Duplicate})
		return nil
	}
	d, err := w.openDoc(rel, xml != nil)
	if err != nil {
		return err
	}
	if !w.opt.DryRun {
		if _, err := d.buf.Write(rec); err != nil {
			return fmt.Errorf("snapshot %s: %w", rel, err)
		}
		if xml != nil {
			if err := xml(d.xmlBody); err != nil {
				return fmt.Errorf("snapshot %s: %w", rel, err)
			}
		}
		if entry != nil {
			if err := sp.addEncoded(entry); err != nil {
				return err
			}
		} else {
			sum := sha256.Sum256(rec)
			if err := sp.add(mapping.Entry{Kind: kind, Key: key, Path: rel, Size: int64(len(rec)), SHA256: hex.EncodeToString(sum[:])}); err != nil {
				return err
			}
		}
	}
	d.n++
	w.counts.Add(kind, 1)
	w.report(progress.Event{Kind: kind, Item: key, Action: progress.Copied, Bytes: int64(len(rec))})
	return nil
}

// AddNote writes one note as notes/<folder>/<title>.md.
func (w *Writer) AddNote(ctx context.Context, n mapping.Note) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	folder := SafeName(n.Folder, "")
	if strings.HasPrefix(folder, "_") {
		// notes/_files holds attachments; a folder of the person's may
		// not take that name.
		folder = "folder" + folder
	}
	title := SafeName(n.Title, "")
	if title == "" {
		title = "Untitled"
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "# %s\n\n", strings.ReplaceAll(firstNonEmpty(n.Title, "Untitled"), "\n", " "))
	if !n.Created.IsZero() {
		fmt.Fprintf(&body, "Created: %s  \n", n.Created.Format(time.RFC3339))
	}
	if !n.Modified.IsZero() {
		fmt.Fprintf(&body, "Modified: %s  \n", n.Modified.Format(time.RFC3339))
	}
	if n.Deleted {
		body.WriteString("Deleted: yes (this note was in the source's trash)  \n")
	}
	body.WriteString("\n")
	body.WriteString(n.Body)
	if !strings.HasSuffix(n.Body, "\n") {
		body.WriteString("\n")
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if n.Key == "" {
		n.Key = mapping.HashKey("note-", []byte(n.Folder+"\x00"+n.Title+"\x00"+n.Body))
	}
	if !w.claim(mapping.KindNote, n.Key) {
		w.report(progress.Event{Kind: mapping.KindNote, Item: n.Key, Action: progress.Duplicate})
		return nil
	}
	rel := w.uniquePath(path.Join(NotesDir, folder, title), ".md")
	mod := firstTime(n.Modified, n.Created)
	sum := sha256.Sum256(body.Bytes())
	e := mapping.Entry{Kind: mapping.KindNote, Key: n.Key, Path: rel, Size: int64(body.Len()), SHA256: hex.EncodeToString(sum[:]), Modified: mod}
	if err := w.writeSmallFile(e, body.Bytes()); err != nil {
		return err
	}
	w.counts.Notes++
	return nil
}

// writeSmallFile writes bytes held in memory unless the snapshot already
// holds them, and records the entry. Called with w.mu held.
func (w *Writer) writeSmallFile(e mapping.Entry, data []byte) error {
	if !w.opt.DryRun {
		dst := filepath.Join(w.dir, filepath.FromSlash(e.Path))
		if !sameFile(dst, e) {
			if err := fsutil.WriteFile(dst, data, false); err != nil {
				return fmt.Errorf("snapshot %s: %w", e.Path, err)
			}
			if !e.Modified.IsZero() {
				_ = os.Chtimes(dst, e.Modified, e.Modified)
			}
		}
		if err := w.entries.add(e); err != nil {
			return err
		}
	}
	w.report(progress.Event{Kind: e.Kind, Item: e.Key, Action: progress.Copied, Bytes: e.Size})
	return nil
}

// sameFile reports whether dst already holds exactly the bytes of e.
func sameFile(dst string, e mapping.Entry) bool {
	st, err := os.Stat(dst)
	if err != nil || !st.Mode().IsRegular() || st.Size() != e.Size {
		return false
	}
	sum, _, err := HashFile(dst)
	return err == nil && sum == e.SHA256
}

// uniquePath returns base+ext, or base (2)+ext and so on when an earlier
// item of this export took it. Called with w.mu held.
func (w *Writer) uniquePath(base, ext string) string {
	p := base + ext
	for i := 2; w.paths[strings.ToLower(p)]; i++ {
		p = fmt.Sprintf("%s (%d)%s", base, i, ext)
	}
	w.paths[strings.ToLower(p)] = true
	return p
}

// AddFile stores an attachment (an MMS part, a note image) at rel, a path
// relative to the snapshot root, and returns its entry. rel is untrusted
// and is refused if it would leave the snapshot.
func (w *Writer) AddFile(ctx context.Context, rel string, r io.Reader, mod time.Time) (mapping.Entry, error) {
	c, err := mapping.CleanRelPath(rel)
	if err != nil {
		return mapping.Entry{}, err
	}
	if isReserved(c) {
		return mapping.Entry{}, fmt.Errorf("%w: attachment path %q is reserved for the snapshot's own files", mapping.ErrBadInput, rel)
	}
	w.mu.Lock()
	if !w.claim(mapping.KindFile, c) {
		w.mu.Unlock()
		return mapping.Entry{}, fmt.Errorf("%w: attachment %q added twice", mapping.ErrBadInput, c)
	}
	w.mu.Unlock()
	e := mapping.Entry{Kind: mapping.KindFile, Key: c, Path: c, Modified: mod}
	e, err = w.copyIn(ctx, e, r, nil, nil)
	if err != nil {
		return e, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.opt.DryRun {
		if err := w.entries.add(e); err != nil {
			return e, err
		}
	}
	w.report(progress.Event{Kind: mapping.KindFile, Item: c, Action: progress.Copied, Bytes: e.Size})
	return e, nil
}

func isReserved(rel string) bool {
	switch rel {
	case ContactsPath, MessagesPath, SMSXMLPath, CallsPath, CallsXMLPath, ManifestPath:
		return true
	}
	return strings.HasPrefix(rel, MediaDir+"/")
}

// MaxThumbnailItems bounds the reduced copies a manifest names (all are
// counted): the header is read whole, so it must not grow with the source.
const MaxThumbnailItems = 200

// Opener opens a media file's bytes. It is called only when the file must
// be copied, so an unchanged photo is never read again.
type Opener func(ctx context.Context) (io.ReadCloser, error)

// AddMedia copies one photo, video or recording to media/<m.Path>, hashing
// it on the way, unless the previous export already holds it with the same
// size and modification time. Thumbnails are counted, not copied.
func (w *Writer) AddMedia(ctx context.Context, m mapping.Media, open Opener) error {
	return w.AddMediaHashed(ctx, m, open, nil)
}

// AddMediaHashed is AddMedia for a local file (m.Local) already read by
// HashLocal, on another goroutine while the export went on: when the file
// is still the one that was hashed, it is linked without being read again.
func (w *Writer) AddMediaHashed(ctx context.Context, m mapping.Media, open Opener, pre *LocalHash) error {
	st, err := w.stageMedia(ctx, m, open, pre)
	if err != nil {
		return err
	}
	return w.AddStaged(st)
}

// StagedMedia is a media file already in the snapshot's folder (or found
// unchanged, or counted as a thumbnail) whose manifest entry is not added
// yet: AddStaged adds it. A source that copies several files at once stages
// them in any order and adds them in its own, so the manifest reads the
// same as a one-at-a-time export's.
type StagedMedia struct {
	e      mapping.Entry
	rel    string
	action progress.Action // Copied, Unchanged, Thumbnail, Duplicate, WouldCopy
	size   int64
}

// StageMedia is AddMedia without its last step, adding the entry: call
// AddStaged with the result, in the order the entries should have.
func (w *Writer) StageMedia(ctx context.Context, m mapping.Media, open Opener) (*StagedMedia, error) {
	return w.stageMedia(ctx, m, open, nil)
}

// AddStaged adds a staged file's entry, counts it and reports it.
func (w *Writer) AddStaged(st *StagedMedia) error {
	switch st.action {
	case progress.Thumbnail:
		w.mu.Lock()
		w.counts.Thumbnails++
		if len(w.thumbs) < MaxThumbnailItems {
			w.thumbs = append(w.thumbs, st.rel)
		}
		w.mu.Unlock()
		w.report(progress.Event{Kind: mapping.KindMedia, Item: st.rel, Action: progress.Thumbnail})
		return nil
	case progress.Duplicate:
		w.report(progress.Event{Kind: mapping.KindMedia, Item: st.rel, Action: progress.Duplicate})
		return nil
	case progress.WouldCopy:
		w.mu.Lock()
		w.counts.Media++
		w.mu.Unlock()
		w.report(progress.Event{Kind: mapping.KindMedia, Item: st.rel, Action: progress.WouldCopy, Bytes: st.size})
		return nil
	}
	return w.finishMedia(st.e, st.action == progress.Unchanged)
}

func (w *Writer) stageMedia(ctx context.Context, m mapping.Media, open Opener, pre *LocalHash) (*StagedMedia, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rel, err := mapping.CleanRelPath(m.Path)
	if err != nil {
		return nil, err
	}
	if m.Thumbnail || media.IsThumbnailPath("/"+rel) {
		return &StagedMedia{rel: rel, action: progress.Thumbnail}, nil
	}
	p := MediaDir + "/" + rel
	w.mu.Lock()
	if !w.claim(mapping.KindMedia, rel) {
		w.mu.Unlock()
		return &StagedMedia{rel: rel, action: progress.Duplicate}, nil
	}
	w.mu.Unlock()

	dst := filepath.Join(w.dir, filepath.FromSlash(p))
	if prev, ok := w.unchanged(rel, m.Size, m.ModTime); ok {
		prev.Key = rel
		return &StagedMedia{e: prev, rel: rel, action: progress.Unchanged}, nil
	}
	if w.opt.DryRun {
		return &StagedMedia{rel: rel, action: progress.WouldCopy, size: max(m.Size, 0)}, nil
	}
	e := mapping.Entry{Kind: mapping.KindMedia, Key: rel, Path: p, Modified: m.ModTime.Truncate(time.Second)}
	var sha1h hash.Hash
	if m.SHA1 != "" {
		sha1h = sha1.New()
	}
	// Checked before the copy replaces anything, so a damaged download
	// never takes the place of a good earlier copy.
	check := func(n int64) error {
		if m.Size >= 0 && n != m.Size {
			return fmt.Errorf("read %d bytes, the source listed %d (the file changed while being copied, or the source is lying); run again", n, m.Size)
		}
		if sha1h != nil && !strings.EqualFold(hex.EncodeToString(sha1h.Sum(nil)), m.SHA1) {
			return fmt.Errorf("sha1 %x does not match the source's %s; the download is damaged", sha1h.Sum(nil), m.SHA1)
		}
		return nil
	}
	linked := false
	if w.opt.LinkLocal && m.Local != "" {
		var err error
		if e, linked, err = w.linkIn(ctx, e, m.Local, sha1h, check, pre); err != nil {
			return nil, fmt.Errorf("media %s: %w", rel, err)
		}
		if !linked && sha1h != nil {
			sha1h.Reset()
		}
	}
	if !linked {
		rc, err := open(ctx)
		if err != nil {
			return nil, fmt.Errorf("media %s: %w", rel, err)
		}
		e, err = w.copyIn(ctx, e, rc, sha1h, check)
		if f, ok := rc.(*os.File); ok && err == nil {
			// A local source is read once; its pages make room for
			// the copy's (fsutil.LetGo).
			fsutil.LetGo(f)
		}
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("media %s: %w", rel, err)
		}
	}
	if !m.Taken.IsZero() {
		e.Taken, e.TakenFrom = m.Taken, media.FromSource
	} else if linked && pre != nil && pre.takenFrom != "" && pre.SHA256 == e.SHA256 && pre.rel == rel && pre.mod.Equal(e.Modified) {
		e.Taken, e.TakenFrom = pre.taken, pre.takenFrom
	} else if f, err := fsutil.Open(dst); err == nil {
		e.Taken, e.TakenFrom = media.Taken(f, e.Size, e.MIME, rel, e.Modified)
		f.Close()
	}
	return &StagedMedia{e: e, rel: rel, action: progress.Copied}, nil
}

// LinksLocal reports whether AddMedia links local files (Options.LinkLocal
// on a writer that writes), so a source knows hashing them ahead is useful.
func (w *Writer) LinksLocal() bool { return w.opt.LinkLocal && !w.opt.DryRun }

// HasUnchanged reports whether the snapshot already holds the media file
// rel from the previous export, with this size and modification time and
// still intact on disk. AddMedia then reuses it without opening the source,
// so a source may skip reading the file too (to sniff its type, say).
func (w *Writer) HasUnchanged(rel string, size int64, mod time.Time) bool {
	_, ok := w.unchanged(rel, size, mod)
	return ok
}

func (w *Writer) unchanged(rel string, size int64, mod time.Time) (mapping.Entry, bool) {
	p := MediaDir + "/" + rel
	w.mu.Lock()
	prev, had := w.prev[p]
	w.mu.Unlock()
	if !had || size < 0 || prev.Size != size || !prev.Modified.Equal(mod.Truncate(time.Second)) {
		return mapping.Entry{}, false
	}
	st, err := os.Stat(filepath.Join(w.dir, filepath.FromSlash(p)))
	// A hard-linked file keeps its source's sub-second mtime; the manifest
	// holds whole seconds, as a copy's mtime does.
	if err != nil || st.Size() != prev.Size || !st.ModTime().Truncate(time.Second).Equal(prev.Modified) {
		return mapping.Entry{}, false
	}
	return prev, true
}

func (w *Writer) finishMedia(e mapping.Entry, unchanged bool) error {
	if err := w.addMediaEntry(e, unchanged); err != nil {
		return err
	}
	if w.opt.MediaAdded != nil && !w.opt.DryRun {
		w.opt.MediaAdded(e)
	}
	return nil
}

func (w *Writer) addMediaEntry(e mapping.Entry, unchanged bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.entries.add(e); err != nil {
		return err
	}
	w.counts.Media++
	if unchanged {
		w.skipped++
		w.report(progress.Event{Kind: mapping.KindMedia, Item: e.Key, Action: progress.Unchanged, Bytes: e.Size})
		return nil
	}
	w.report(progress.Event{Kind: mapping.KindMedia, Item: e.Key, Action: progress.Copied, Bytes: e.Size})
	return nil
}

// copyIn streams r into the snapshot at e.Path through a temp file, filling
// in size, sha256 and MIME type, and setting the file's mtime.
func (w *Writer) copyIn(ctx context.Context, e mapping.Entry, r io.Reader, extra hash.Hash, check func(n int64) error) (mapping.Entry, error) {
	if w.opt.DryRun {
		n, err := io.Copy(io.Discard, r)
		e.Size = n
		return e, err
	}
	dst := filepath.Join(w.dir, filepath.FromSlash(e.Path))
	f, err := fsutil.Create(dst)
	if err != nil {
		return e, err
	}
	h := sha256.New()
	sn := &sniffer{}
	ws := []io.Writer{f.File, h, sn}
	if extra != nil {
		ws = append(ws, extra)
	}
	n, err := fsutil.Copy(io.MultiWriter(ws...), fsutil.ContextReader(ctx, r))
	if err == nil && check != nil {
		err = check(n)
	}
	if err == nil && !e.Modified.IsZero() {
		err = f.SetModTime(e.Modified)
	}
	if err != nil {
		f.Abort()
		return e, err
	}
	if err := f.Commit(); err != nil {
		return e, err
	}
	e.Size = n
	e.SHA256 = hex.EncodeToString(h.Sum(nil))
	e.MIME = media.Sniff(sn.head)
	return e, nil
}

// linkIn puts the local file src into the snapshot at e.Path as a hard
// link: it is read once, to hash and sniff it, and never written. The link
// cannot alter the source because the snapshot never writes a file in
// place (every change is a new file renamed over the old name, and a
// linked file's mtime is never set). It reports false, with no error, when
// the file system refuses the link (another device, a file system without
// links, protected_hardlinks), so the caller copies instead.
func (w *Writer) linkIn(ctx context.Context, e mapping.Entry, src string, extra hash.Hash, check func(n int64) error, pre *LocalHash) (mapping.Entry, bool, error) {
	var sum LocalHash
	if pre != nil && extra == nil && pre.unchanged(src) {
		sum = *pre
	} else {
		got, err := hashLocal(ctx, src, extra)
		if err != nil {
			return e, false, err
		}
		sum = *got
	}
	n := sum.Size
	if check != nil {
		if err := check(n); err != nil {
			return e, false, err
		}
	}
	dst := filepath.Join(w.dir, filepath.FromSlash(e.Path))
	if linked, err := w.link(src, dst, sum.info, n); err != nil || !linked {
		return e, false, err
	}
	e.Size = n
	e.SHA256 = sum.SHA256
	e.MIME = media.Sniff(sum.head)
	return e, true, nil
}

// link makes dst a hard link of src, which was read as the file hashed.
// The name dst is free on a first export, so the link is made there at
// once (one system call where a temp name, a check and a rename took
// five); a name already taken, by an earlier snapshot's file, is replaced
// through a temp name and a rename, as every other snapshot file is. It
// reports false, with no error, when the link is refused.
func (w *Writer) link(src, dst string, hashed os.FileInfo, n int64) (bool, error) {
	at := dst
	err := os.Link(src, at)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return false, err
		}
		err = os.Link(src, at)
	}
	if errors.Is(err, fs.ErrExist) {
		if st, err := os.Lstat(dst); err == nil && os.SameFile(st, hashed) {
			return true, nil // linked by a run that stopped before its commit
		}
		at = filepath.Join(filepath.Dir(dst), fsutil.TempPrefix+"link-"+rand.Text())
		err = os.Link(src, at)
	}
	if err != nil {
		w.log.Debug("hard link refused; copying instead", "file", src, "err", err)
		return false, nil
	}
	// The name may have been given to another file since it was read.
	if st, err := os.Lstat(at); err != nil || !os.SameFile(st, hashed) || st.Size() != n || !st.ModTime().Equal(hashed.ModTime()) {
		os.Remove(at)
		return false, fmt.Errorf("%s changed while being read; run again", src)
	}
	if at != dst {
		if err := os.Rename(at, dst); err != nil {
			os.Remove(at)
			return false, err
		}
	}
	return true, nil
}

// LocalHash is what one read of a local file tells the snapshot: its
// sha256, its first bytes, and the file as it was when read.
type LocalHash struct {
	SHA256 string
	Size   int64
	head   []byte
	lead   []byte
	info   os.FileInfo
	// The date the picture was taken, found for the media path rel with
	// mtime mod (HashLocalMedia).
	rel       string
	mod       time.Time
	taken     time.Time
	takenFrom string
}

// HashLocalMedia reads the local file p once, for AddMediaHashed, and
// finds when the picture was taken (EXIF, MP4 header, name) as
// AddMediaHashed would for media path rel with modification time mod, so
// that work too leaves the sequential path.
func HashLocalMedia(ctx context.Context, p, rel string, mod time.Time) (*LocalHash, error) {
	// Pooled: grown by append for each photo, this buffer cost more CPU
	// (its growth, zeroing and the memory given back) than its copies.
	bp := frontBuffers.Get().(*[]byte)
	front := &frontCapture{b: (*bp)[:0], max: takenFront}
	defer func() {
		*bp = front.b[:0]
		frontBuffers.Put(bp)
	}()
	l, f, err := hashLocalKeep(ctx, p, nil, front)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l.lead = bytes.Clone(front.b[:min(LeadLen, len(front.b))])
	l.rel, l.mod = rel, mod.Truncate(time.Second)
	// The dates are near the start of a photo: read from what the hash
	// already read, the rest of the file (an MP4's moov at its end) from
	// the same open file.
	l.taken, l.takenFrom = media.Taken(frontReaderAt{front.b, f}, l.Size, media.Sniff(l.head), rel, l.mod)
	return l, nil
}

// Lead is the file's first bytes (up to LeadLen), which HashLocalMedia
// keeps so a source can tell what the file is without opening it again.
func (l *LocalHash) Lead() []byte { return l.lead }

// LeadLen is how much of a file's start Lead keeps.
const LeadLen = 512

// takenFront is how much of a file's start HashLocalMedia keeps for
// finding its date.
const takenFront = 128 << 10

var frontBuffers = sync.Pool{New: func() any { b := make([]byte, 0, takenFront); return &b }}

// frontCapture keeps the first max bytes written to it.
type frontCapture struct {
	b   []byte
	max int
}

func (c *frontCapture) Write(p []byte) (int, error) {
	if need := c.max - len(c.b); need > 0 {
		c.b = append(c.b, p[:min(need, len(p))]...)
	}
	return len(p), nil
}

// frontReaderAt reads from front where it can, else from r.
type frontReaderAt struct {
	front []byte
	r     io.ReaderAt
}

func (f frontReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= 0 && off+int64(len(p)) <= int64(len(f.front)) {
		return copy(p, f.front[off:]), nil
	}
	return f.r.ReadAt(p, off)
}

func hashLocal(ctx context.Context, p string, extra hash.Hash) (*LocalHash, error) {
	l, f, err := hashLocalKeep(ctx, p, extra)
	if err != nil {
		return nil, err
	}
	f.Close()
	return l, nil
}

// hashLocalKeep hashes p and returns it still open, positioned at its end.
func hashLocalKeep(ctx context.Context, p string, extra hash.Hash, more ...io.Writer) (*LocalHash, *os.File, error) {
	f, err := fsutil.Open(p)
	if err != nil {
		return nil, nil, err
	}
	before, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	h := sha256.New()
	sn := &sniffer{}
	ws := append([]io.Writer{h, sn}, more...)
	if extra != nil {
		ws = append(ws, extra)
	}
	n, err := fsutil.Copy(io.MultiWriter(ws...), fsutil.ContextReader(ctx, f))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	after, err := os.Stat(p)
	if err != nil || !os.SameFile(before, after) || after.Size() != n || !after.ModTime().Equal(before.ModTime()) {
		f.Close()
		return nil, nil, fmt.Errorf("%s changed while being read; run again", p)
	}
	return &LocalHash{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, head: sn.head, info: after}, f, nil
}

// unchanged reports whether p is still the file that was hashed.
func (l *LocalHash) unchanged(p string) bool {
	st, err := os.Stat(p)
	return err == nil && l.info != nil && os.SameFile(st, l.info) && st.Size() == l.Size && st.ModTime().Equal(l.info.ModTime())
}

// sniffer keeps the first bytes of a stream for media.Sniff.
type sniffer struct{ head []byte }

func (s *sniffer) Write(p []byte) (int, error) {
	if need := media.SniffLen - len(s.head); need > 0 {
		s.head = append(s.head, p[:min(need, len(p))]...)
	}
	return len(p), nil
}

// Commit finishes the documents and writes the manifest. Until it returns,
// readers see the previous snapshot's manifest.
func (w *Writer) Commit(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("snapshot: already committed")
	}
	w.closed = true
	if w.opt.DryRun {
		return nil
	}
	defer w.entries.close()
	defer w.closeLanes()
	if err := ctx.Err(); err != nil {
		w.abortDocs()
		return err
	}
	if err := w.unplaced(); err != nil {
		w.abortDocs()
		return err
	}
	type finish struct {
		rel, xmlRel, header, footer string
	}
	finishes := []finish{
		{ContactsPath, "", "", ""},
		{MessagesPath, SMSXMLPath, "sms", smsxml.SMSFooter},
		{CallsPath, CallsXMLPath, "calls", smsxml.CallsFooter},
	}
	for _, fin := range finishes {
		d := w.docs[fin.rel]
		if d == nil {
			continue
		}
		delete(w.docs, fin.rel)
		if err := w.finishDoc(d, fin.rel, fin.xmlRel, fin.header, fin.footer); err != nil {
			w.abortDocs()
			return err
		}
	}
	if err := w.writeManifest(); err != nil {
		return err
	}
	w.log.Info("snapshot written", "dir", w.dir, "contacts", w.counts.Contacts, "messages", w.counts.Messages,
		"calls", w.counts.Calls, "notes", w.counts.Notes, "media", w.counts.Media, "media_unchanged", w.skipped)
	return nil
}

// Abort drops what this writer added to documents; files already renamed
// into place stay (they are complete) but the manifest is not changed.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.abortDocs()
	if w.entries != nil {
		w.entries.close()
	}
	w.closeLanes()
}

func (w *Writer) abortDocs() {
	for rel, d := range w.docs {
		if d.f != nil {
			fsutil.Abort(d.f)
		}
		if d.xml != nil {
			fsutil.Abort(d.xml)
		}
		delete(w.docs, rel)
	}
}

func (w *Writer) finishDoc(d *doc, rel, xmlRel, header, footer string) error {
	if err := d.buf.Flush(); err != nil {
		return fmt.Errorf("snapshot %s: %w", rel, err)
	}
	dst := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := w.commitDoc(d.f, dst, rel); err != nil {
		return err
	}
	if d.xml == nil {
		return nil
	}
	if err := d.xmlBody.Flush(); err != nil {
		return fmt.Errorf("snapshot %s: %w", xmlRel, err)
	}
	defer fsutil.Abort(d.xml)
	if _, err := d.xml.Seek(0, io.SeekStart); err != nil {
		return err
	}
	hdr := smsxml.SMSHeader(d.n)
	if header == "calls" {
		hdr = smsxml.CallsHeader(d.n)
	}
	xdst := filepath.Join(w.dir, filepath.FromSlash(xmlRel))
	out, err := fsutil.CreateTemp(xdst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.MultiReader(strings.NewReader(hdr), d.xml, strings.NewReader(footer))); err != nil {
		fsutil.Abort(out)
		return fmt.Errorf("snapshot %s: %w", xmlRel, err)
	}
	return w.commitDoc(out, xdst, xmlRel)
}

// commitDoc renames a finished document into place unless the snapshot
// already holds the same bytes, so an unchanged re-export changes no file
// and no mtime, and records its file entry.
func (w *Writer) commitDoc(f *os.File, dst, rel string) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	n, err := fsutil.Copy(h, f)
	if err != nil {
		fsutil.Abort(f)
		return fmt.Errorf("snapshot %s: %w", rel, err)
	}
	e := mapping.Entry{Kind: mapping.KindFile, Key: rel, Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if prev, ok := w.prev[rel]; ok && prev.SHA256 == e.SHA256 && sameStat(dst, prev) {
		fsutil.Abort(f)
		e.Modified = prev.Modified
	} else {
		if err := fsutil.Commit(f, dst, false); err != nil {
			return fmt.Errorf("snapshot %s: %w", rel, err)
		}
		if st, err := os.Stat(dst); err == nil {
			e.Modified = st.ModTime()
		}
	}
	return w.entries.add(e)
}

func sameStat(dst string, e mapping.Entry) bool {
	st, err := os.Stat(dst)
	return err == nil && st.Size() == e.Size && st.ModTime().Equal(e.Modified)
}

// SafeName turns an untrusted title or folder name into one file-name
// component: separators and control characters become "_", dots alone are
// refused, and the result fits in 200 bytes on any file system.
func SafeName(s, fallback string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f, strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteByte('_')
		case r == '\uFFFD':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	out := strings.Trim(b.String(), " .")
	for len(out) > 200 {
		rs := []rune(out)
		out = string(rs[:len(rs)-1])
	}
	if out == "" {
		return fallback
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func cloneCard(c vcard.Card) vcard.Card {
	out := make(vcard.Card, len(c))
	for k, fs := range c {
		cp := make([]*vcard.Field, len(fs))
		for i, f := range fs {
			nf := *f
			if f.Params != nil {
				nf.Params = make(vcard.Params, len(f.Params))
				for pk, pv := range f.Params {
					nf.Params[pk] = append([]string(nil), pv...)
				}
			}
			cp[i] = &nf
		}
		out[k] = cp
	}
	return out
}

func cardName(c vcard.Card) string {
	if fn := c.Value(vcard.FieldFormattedName); fn != "" {
		return fn
	}
	return "(no name)"
}

// NotUnderstood records a file the source holds that miexit cannot read,
// so inventory and the report list it instead of silently dropping it.
func (w *Writer) NotUnderstood(name, why string) {
	w.mu.Lock()
	w.counts.NotUnderstood++
	w.mu.Unlock()
	w.log.Info("not understood", "file", name, "why", why)
	w.report(progress.Event{Item: name, Action: progress.NotUnderstood, Err: why})
}

// Skip records an item left out for a reason (an unsafe path, a symlink).
func (w *Writer) Skip(kind mapping.Kind, name, why string) {
	w.log.Warn("skipped", "item", name, "why", why)
	w.report(progress.Event{Kind: kind, Item: name, Action: progress.Skipped, Err: why})
}
