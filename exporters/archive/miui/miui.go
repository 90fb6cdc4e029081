// Package miui reads MIUI "Local backup" files (*.bak, from
// MIUI/backup/AllBackup/<yyyyMMdd_HHmmss>/ or a HyperOS zip of that folder)
// and hands the records they hold to a Sink: SMS and MMS, contacts, the
// call log and notes, with their attachments.
//
// One call to Read consumes one .bak stream: the text header (read line by
// line), optional AES-256 decryption (Android backup encryption), optional
// zlib, then a tar walked as a stream. The payload is identified by package
// and feature id from the header, never by the file's localized label, and
// decoded without a fixed protobuf schema: fields miexit does not know are
// skipped and counted in Result.Unknown.
//
// What is confirmed and what is not (see REFERENCE.md, "MIUI local
// backup"): the header, the Android backup encryption, the tar layout and
// the SMS, contacts, call-log and notes field numbers come from decompiled
// MIUI code and existing parsers. Not confirmed by any real file yet, and
// marked where they are used: the MMS record layout (PROVISIONAL, see
// mms), field 4 of a note as its folder id with -3 meaning deleted, the
// contacts and call-log feature ids (the payload's shape decides), and the
// user of a second-space backup (from the caller, or from /user/<n>/ in
// attachment paths).
//
// Memory stays bounded whatever the input: header lines, protobuf records
// and decompressed sizes all have limits (Limits), the payload spills to a
// temp file when large, and attachments stream straight to the Sink.
package miui

import (
	"archive/tar"
	"bufio"
	"compress/flate"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/miexit/miexit/mapping"
	"github.com/miexit/miexit/mapping/media"
)

// Sink receives what a backup holds. *snapshot.Writer has these methods
// under the names AddContact, AddMessage, AddCall, AddNote and AddFile:
// SnapshotSink adapts it; Counter counts for an inventory.
//
// File is called for every attachment before any record that refers to
// it, so a message or note can name the Entry.Path File returned.
type Sink interface {
	Contact(ctx context.Context, c mapping.Contact) error
	Message(ctx context.Context, m mapping.Message) error
	Call(ctx context.Context, c mapping.Call) error
	Note(ctx context.Context, n mapping.Note) error
	File(ctx context.Context, rel string, r io.Reader, mod time.Time) (mapping.Entry, error)
}

// Limits bound what one backup may make miexit read or hold.
type Limits struct {
	// MaxBytes caps the decompressed, decrypted size of one .bak.
	MaxBytes int64
	// MaxRatio caps decompressed/compressed size once more than 1 MiB
	// came out: zlib cannot exceed about 1032, so more is a crafted file.
	MaxRatio int64
	// MaxPayload caps the _tmp_bak member (spilled to a temp file).
	MaxPayload int64
	// MaxRecord caps one protobuf record (a message, a contact, a note),
	// which is decoded in memory.
	MaxRecord int64
}

// DefaultLimits suit any real phone backup.
var DefaultLimits = Limits{MaxBytes: 64 << 30, MaxRatio: 1100, MaxPayload: 8 << 30, MaxRecord: 64 << 20}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxRatio > 0 {
		d.MaxRatio = l.MaxRatio
	}
	if l.MaxPayload > 0 {
		d.MaxPayload = l.MaxPayload
	}
	if l.MaxRecord > 0 {
		d.MaxRecord = l.MaxRecord
	}
	return d
}

// Options configure Read.
type Options struct {
	// Name is the .bak's path as the user sees it, used in errors.
	Name string
	// Password opens an encrypted backup (the CLI's --password).
	Password string
	// Prefix keeps attachments of different .bak files apart: they are
	// written under messages/attachments/<Prefix>/ and
	// notes/_files/<Prefix>/. Give each distinct .bak its own stable prefix
	// (for instance its timestamp folder); "miui" when empty.
	Prefix string
	// User is the Android user the backup belongs to when the caller knows
	// it (descript.xml, folder name); 0 lets Read detect it from the
	// attachment paths. Items of a user other than 0 (999 is MIUI's
	// dual-app / second space) get keys and folders of their own.
	User int
	// TempDir holds a large payload while it is decoded ("" = os.TempDir).
	TempDir string
	Limits  Limits
	Log     *slog.Logger
}

// Kind says what a backup file holds.
type Kind string

const (
	KindSMS      Kind = "sms"
	KindMMS      Kind = "mms"
	KindMessages Kind = "sms+mms" // a whole-app (feature -1) messaging backup
	KindContacts Kind = "contacts"
	KindCalls    Kind = "calls"
	KindNotes    Kind = "notes"
	// KindUnknown is any other app or feature: counted as not understood.
	KindUnknown Kind = "unknown"
)

// Result is what Read found in one backup file.
type Result struct {
	Header Header
	Kind   Kind
	User   int
	// Meta is the _tmp_meta member, when present.
	Meta Meta
	// Counts are the items handed to the Sink (before any de-duplication
	// the Sink does). NotUnderstood is 1 for a backup of another app.
	Counts      mapping.Counts
	Attachments int
	// Unknown counts protobuf fields miexit does not understand, by where
	// they were: "sms.9" is field 9 of an SMS record.
	Unknown map[string]int
	// Other counts tar members outside the MIUI domains (an app's own
	// files: db/, f/, sp/), which are not read.
	Other int
	// MissingAttachments counts note images and MMS parts the payload
	// names but the tar does not hold.
	MissingAttachments int
}

// Meta is the text of apps/<pkg>/miui_meta/cache/_tmp_meta.
type Meta struct {
	MetaVersion, Package, VersionCode, VersionName string
	CreateTime                                     time.Time
	Version, Feature, DeviceName, MIUIVersion      string
}

// KindOf names what a package + feature id holds. Contacts and the call
// log share a package and are told apart by the payload's shape (their
// feature ids are not documented), see Read.
func KindOf(pkg string, feature int) Kind {
	switch pkg {
	case "com.android.mms":
		switch feature {
		case 1:
			return KindSMS
		case 2:
			return KindMMS
		case -1:
			return KindMessages
		}
	case "com.android.contacts":
		return KindContacts // refined from the payload
	case "com.miui.notes":
		return KindNotes
	}
	return KindUnknown
}

// IsLegacyStore reports a MIUI 4/5-era backup file (sms.store,
// addressbook.store, ...), which miexit does not read: report it as not
// understood.
func IsLegacyStore(name string) bool {
	return strings.HasSuffix(strings.ToLower(path.Base(name)), ".store")
}

type reader struct {
	ctx   context.Context
	opt   Options
	sink  Sink
	res   *Result
	log   *slog.Logger
	files map[string]mapping.Entry // attachment by its phone path (after miui_att/)
	base  map[string]mapping.Entry // ... and by its base name without extension
}

// Read consumes one .bak stream and hands its records to sink. It returns
// what it found even when it fails part way, so a caller can report it.
// Errors about the content wrap mapping.ErrBadInput and name opt.Name and
// the tar member; a missing or wrong password wraps ErrPassword.
func Read(ctx context.Context, r io.Reader, sink Sink, opt Options) (*Result, error) {
	opt.Limits = opt.Limits.withDefaults()
	if opt.Prefix == "" {
		opt.Prefix = "miui"
	}
	prefix, err := mapping.CleanRelPath(opt.Prefix)
	if err != nil {
		return &Result{}, fmt.Errorf("attachment prefix: %w", err)
	}
	opt.Prefix = prefix
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	rd := &reader{ctx: ctx, opt: opt, sink: sink, log: opt.Log,
		res:   &Result{Unknown: map[string]int{}, User: opt.User},
		files: map[string]mapping.Entry{}, base: map[string]mapping.Entry{}}
	err = rd.run(r)
	if len(rd.res.Unknown) > 0 {
		rd.log.Warn("MIUI backup holds fields miexit does not understand; they were skipped",
			"file", opt.Name, "kind", rd.res.Kind, "fields", rd.res.Unknown)
	}
	if err != nil && opt.Name != "" {
		err = fmt.Errorf("%s: %w", opt.Name, err)
	}
	return rd.res, err
}

func (rd *reader) run(r io.Reader) error {
	in := &countReader{r: r}
	br := bufio.NewReaderSize(in, 64<<10)
	h, err := ReadHeader(br)
	rd.res.Header = h
	if err != nil {
		return err
	}
	rd.res.Kind = KindOf(h.Package, h.Feature)
	if h.MIUI && rd.res.Kind == KindUnknown {
		// Another app's data: nothing to decrypt or walk.
		rd.res.Counts.NotUnderstood = 1
		return nil
	}
	var s io.Reader = br
	if h.Encrypted() {
		key, iv, err := masterKey(&h, rd.opt.Password)
		if err != nil {
			return err
		}
		if s, err = newCBCReader(br, key, iv); err != nil {
			return err
		}
	}
	if h.Compressed {
		zr, err := zlib.NewReader(s)
		if err != nil {
			if h.Encrypted() {
				return fmt.Errorf("%w: decrypted data is not zlib (%v)", mapping.ErrBadInput, err)
			}
			return fmt.Errorf("%w: data after the header is not zlib (%v)", mapping.ErrBadInput, err)
		}
		defer zr.Close()
		s = zr
	}
	s = &guard{r: s, in: in, lim: rd.opt.Limits}
	return rd.walk(tar.NewReader(s))
}

// walk reads the tar members in order. The payload comes before the
// attachments in the tar, but records must be handed over after the
// attachments they name, so the payload is spooled and decoded at the end.
func (rd *reader) walk(tr *tar.Reader) error {
	var payload *spool
	defer func() {
		if payload != nil {
			payload.Close()
		}
	}()
	last := "(first member)"
	for {
		if err := rd.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tarErr(err, "after member "+quote(last))
		}
		last = hdr.Name
		name, err := mapping.CleanRelPath(strings.TrimPrefix(hdr.Name, "./"))
		if err != nil {
			return fmt.Errorf("tar member %q: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return fmt.Errorf("%w: tar member %q is not a regular file (type %q): links and devices are refused", mapping.ErrBadInput, hdr.Name, hdr.Typeflag)
		}
		pkg, domain, rest := splitMember(name)
		if pkg == "" {
			rd.res.Other++
			continue
		}
		if rd.res.Header.Package == "" {
			// A bare Android backup: the tar names the package.
			rd.res.Header.Package = pkg
			rd.res.Header.Feature = -1
			rd.res.Kind = KindOf(pkg, -1)
			if rd.res.Kind == KindUnknown {
				rd.res.Counts.NotUnderstood = 1
				return nil
			}
		}
		switch {
		case domain == "miui_meta" && path.Base(rest) == "_tmp_meta":
			if err := rd.readMeta(tr); err != nil {
				return tarErr(err, "in member "+quote(hdr.Name))
			}
		case domain == "miui_bak" && rest == "_tmp_bak":
			if payload != nil {
				return fmt.Errorf("%w: tar member %q appears twice", mapping.ErrBadInput, hdr.Name)
			}
			payload, err = newSpool(tr, rd.opt.Limits.MaxPayload, rd.opt.TempDir)
			if err != nil {
				return tarErr(err, "in member "+quote(hdr.Name))
			}
		case domain == "miui_att" && rest != "":
			if err := rd.attachment(tr, hdr, rest); err != nil {
				return tarErr(err, "in member "+quote(hdr.Name))
			}
		default:
			// _manifest, miui_end and the app's own domains.
			if domain != "_manifest" && domain != "miui_end" {
				rd.res.Other++
			}
		}
	}
	if payload == nil {
		return fmt.Errorf("%w: the tar has no apps/%s/miui_bak/_tmp_bak member (the payload)", mapping.ErrBadInput, rd.res.Header.Package)
	}
	return rd.decode(payload)
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// tarErr turns a short read inside the tar into a message that says the
// file is truncated and where.
func tarErr(err error, where string) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the backup ends early %s (truncated file?)", mapping.ErrBadInput, where)
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrFieldTooLong), errors.Is(err, tar.ErrInsecurePath):
		return fmt.Errorf("%w: broken tar %s: %v", mapping.ErrBadInput, where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// splitMember splits "apps/<pkg>/<domain>/<rest>".
func splitMember(name string) (pkg, domain, rest string) {
	parts := strings.SplitN(name, "/", 4)
	if len(parts) < 3 || parts[0] != "apps" {
		return "", "", ""
	}
	pkg, domain = parts[1], parts[2]
	if len(parts) == 4 {
		rest = parts[3]
	}
	return pkg, domain, rest
}

func (rd *reader) readMeta(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return err
	}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n")
	get := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	m := Meta{MetaVersion: get(0), Package: get(1), VersionCode: get(2), VersionName: get(3),
		Version: get(5), Feature: get(6), DeviceName: get(7), MIUIVersion: get(8)}
	if ms, ok := parseInt(get(4)); ok && ms > 0 {
		m.CreateTime = time.UnixMilli(ms).UTC()
	}
	rd.res.Meta = m
	return nil
}

// attachment streams one miui_att member to the sink. Its path after
// miui_att/ is the file's absolute path on the phone, which also tells
// which Android user it belonged to.
func (rd *reader) attachment(r io.Reader, hdr *tar.Header, phonePath string) error {
	if u := userFromPath(phonePath); u > 0 && rd.res.User == 0 {
		rd.res.User = u
	}
	dir := "messages/attachments"
	if rd.res.Kind == KindNotes {
		dir = "notes/_files"
	}
	rel := path.Join(dir, rd.opt.Prefix, phonePath)
	// Note images are stored under their bare file id: give them the
	// extension their bytes call for, so Markdown viewers show them.
	br := bufio.NewReaderSize(r, media.SniffLen)
	if path.Ext(phonePath) == "" {
		head, _ := br.Peek(media.SniffLen)
		rel += extFor[media.Sniff(head)]
	}
	r = br
	if _, err := mapping.CleanRelPath(rel); err != nil {
		return err
	}
	// The hash is taken here, not from the sink's Entry: an MMS key depends
	// on its parts' hashes, and a dry-run sink does not compute them.
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(r, h)}
	e, err := rd.sink.File(rd.ctx, rel, cr, hdr.ModTime.UTC())
	if err != nil {
		return fmt.Errorf("attachment %s: %w", phonePath, err)
	}
	// Whatever the sink left unread still belongs to the hash.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return fmt.Errorf("attachment %s: %w", phonePath, err)
	}
	if e.Path == "" {
		e.Path = rel
	}
	e.Size, e.SHA256 = cr.n, hex.EncodeToString(h.Sum(nil))
	rd.files[phonePath] = e
	b := path.Base(phonePath)
	rd.base[strings.TrimSuffix(b, path.Ext(b))] = e
	rd.base[b] = e
	rd.res.Attachments++
	return nil
}

var extFor = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp",
	"image/heic": ".heic", "image/avif": ".avif", "audio/wav": ".wav", "audio/mpeg": ".mp3", "audio/amr": ".amr",
	"audio/ogg": ".ogg", "audio/flac": ".flac", "audio/mp4": ".m4a", "video/mp4": ".mp4", "video/3gpp": ".3gp",
	"video/quicktime": ".mov",
}

// userFromPath finds the Android user in /data/user/<n>/ or
// /data/user_de/<n>/ or /storage/emulated/<n>/.
func userFromPath(p string) int {
	segs := strings.Split(p, "/")
	for i := 0; i+1 < len(segs); i++ {
		switch segs[i] {
		case "user", "user_de", "emulated":
			if n, ok := parseInt(segs[i+1]); ok && n > 0 && n < 1<<20 {
				return int(n)
			}
		}
	}
	return 0
}

// countReader counts the bytes read from the file, for the ratio check.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ratioFloor is how much must come out before the ratio is checked: zlib
// cannot beat about 1032:1, so past 1 MiB a higher ratio is never a real
// backup, while headers make tiny streams look odd.
const ratioFloor = 1 << 20

// guard stops a stream that decompresses to more than the limits allow.
type guard struct {
	r   io.Reader
	in  *countReader
	out int64
	lim Limits
}

func (g *guard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	var corrupt flate.CorruptInputError
	if errors.As(err, &corrupt) || errors.Is(err, zlib.ErrChecksum) || errors.Is(err, zlib.ErrHeader) {
		err = fmt.Errorf("%w: corrupt compressed data (%v)", mapping.ErrBadInput, err)
	}
	g.out += int64(n)
	if g.lim.MaxBytes > 0 && g.out > g.lim.MaxBytes {
		return n, fmt.Errorf("%w: backup expands to more than %d bytes", mapping.ErrBadInput, g.lim.MaxBytes)
	}
	if g.lim.MaxRatio > 0 && g.out > ratioFloor && g.out > g.in.n*g.lim.MaxRatio {
		return n, fmt.Errorf("%w: backup expands more than %d times its size (a decompression bomb?)", mapping.ErrBadInput, g.lim.MaxRatio)
	}
	return n, err
}
