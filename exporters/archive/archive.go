// Package archive is the "archive:PATH" source: a folder or a .zip holding
// what a person downloaded or exported (vCard files, photos and videos,
// messages as JSONL, notes), including a miexit snapshot itself.
package archive

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/exporters/archive/miui"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
	"github.com/miexit/miexit/mapping/media"
	"github.com/miexit/miexit/mapping/smsxml"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

func init() {
	exporters.Register("archive", func(ctx context.Context, p exporters.Params) (exporters.Exporter, error) {
		return New(p)
	})
}

// Exporter reads one folder or zip.
type Exporter struct {
	path string
	p    exporters.Params
	// users maps a .bak's path to the Android user descript.xml gives it.
	users map[string]int
}

// New returns the exporter for the folder or zip at p.Arg.
func New(p exporters.Params) (*Exporter, error) {
	if strings.TrimSpace(p.Arg) == "" {
		return nil, fmt.Errorf("%w: archive: needs a folder or zip, as in archive:./Download/backup.zip", mapping.ErrBadInput)
	}
	return &Exporter{path: p.Arg, p: p, users: map[string]int{}}, nil
}

// Name implements exporters.Exporter.
func (e *Exporter) Name() string {
	b := filepath.Base(filepath.Clean(e.path))
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// stateFormat names what the export makes of the files it reads; raise it
// when that changes, so snapshots of unchanged sources are made again.
const stateFormat = "archive-1"

// State implements exporters.Stater: a digest of every file's path, type,
// size and modification time under the folder (or of the zip file), the
// format of the export, and whether a password was given. Reading it costs
// a walk of the folder, not a read of any file.
func (e *Exporter) State(ctx context.Context) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%t\x00", stateFormat, e.p.Password != "")
	var buf []byte
	add := func(rel string, info fs.FileInfo) {
		buf = append(buf[:0], rel...)
		buf = binary.LittleEndian.AppendUint32(append(buf, 0), uint32(info.Mode().Type()))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(info.Size()))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(info.ModTime().UnixNano()))
		h.Write(buf)
	}
	root, err := filepath.Abs(e.path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(root)
	if err == nil && st.IsDir() {
		// As the export, which does not follow a symlink, not even to
		// the folder it was given (a zip it does follow).
		st, err = os.Lstat(root)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", mapping.ErrBadInput, e.path, err)
	}
	add(root, st)
	if st.IsDir() {
		if err := stateWalk(ctx, root, add); err != nil {
			return "", fmt.Errorf("read %s: %w", e.path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// stateWindow is how many entries of one folder stateWalk lstats at once.
const stateWindow = 256

// stateWalk calls add for everything under dir in filepath.WalkDir's
// order (names sorted, a folder's contents right after it, symlinks not
// followed), but lstats each window of a folder's entries on every core:
// the walk is all an unchanged re-run does with the source, one system
// call a file.
func stateWalk(ctx context.Context, dir string, add func(string, fs.FileInfo)) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	infos := make([]fs.FileInfo, min(len(ents), stateWindow))
	for len(ents) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		win := ents[:min(len(ents), stateWindow)]
		ents = ents[len(win):]
		var g errgroup.Group
		parts := min(runtime.GOMAXPROCS(0), (len(win)+31)/32)
		for i := range parts {
			lo, hi := i*len(win)/parts, (i+1)*len(win)/parts
			g.Go(func() error {
				for j := lo; j < hi; j++ {
					info, err := win[j].Info()
					if err != nil {
						return err
					}
					infos[j] = info
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for j, de := range win {
			p := filepath.Join(dir, de.Name())
			add(p, infos[j])
			if de.IsDir() {
				if err := stateWalk(ctx, p, add); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Inventory implements exporters.Exporter by running the export against a
// writer that writes nothing, so its counts are exactly Export's.
func (e *Exporter) Inventory(ctx context.Context) (mapping.Counts, error) {
	w, err := snapshot.Create("", snapshot.Options{DryRun: true, Log: e.p.Log})
	if err != nil {
		return mapping.Counts{}, err
	}
	if err := e.Export(ctx, w); err != nil {
		return mapping.Counts{}, err
	}
	return w.Counts(), nil
}

// Export implements exporters.Exporter.
func (e *Exporter) Export(ctx context.Context, w *snapshot.Writer) error {
	wk, err := openWalker(e.path)
	if err != nil {
		return err
	}
	defer wk.close()
	skip := func(name, why string) { w.Skip("", name, why) }
	g, gctx := errgroup.WithContext(ctx)
	side := newSideDocs()
	g.Go(func() error { return side.run(gctx, wk, w) })
	g.Go(func() error {
		add := func(m member) error {
			if took, err := side.took(gctx, m); took || err != nil {
				return err
			}
			if err := e.one(gctx, w, m); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			return nil
		}
		if err := addAhead(gctx, w, func(fn func(member) error) error { return wk.walk(gctx, fn, skip) }, add); err != nil {
			return err
		}
		return side.unplaced(gctx)
	})
	return g.Wait()
}

// one reads one member into the snapshot.
func (e *Exporter) one(ctx context.Context, w *snapshot.Writer, m member) error {
	lower := strings.ToLower(m.Name)
	base := path.Base(lower)
	switch {
	case lower == snapshot.ManifestPath, lower == snapshot.SMSXMLPath, lower == snapshot.CallsXMLPath:
		// A snapshot's own bookkeeping: its items are read from the
		// vCard and JSONL files next to it.
		return nil
	case strings.HasSuffix(base, ".zip"):
		return e.nestedZip(ctx, w, m)
	case base == "descript.xml":
		return e.descript(m)
	case strings.HasSuffix(base, ".bak"):
		return e.miuiBackup(ctx, w, m)
	case miui.IsLegacyStore(m.Name):
		w.NotUnderstood(m.Name, "a MIUI 4/5-era backup file (.store), which miexit cannot read; make a new backup with Settings > Additional settings > Backup")
		return nil
	case recordDoc(m):
		return records(ctx, w, m)
	case strings.HasPrefix(m.Name, snapshot.AttachmentsDir+"/"), strings.HasPrefix(m.Name, snapshot.NoteFilesDir+"/"):
		// A snapshot's attachments keep their paths, which its messages
		// and notes refer to.
		rc, err := m.open()
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = w.AddFile(ctx, m.Name, rc, m.ModTime)
		return err
	case strings.HasSuffix(base, ".md") && (strings.HasPrefix(lower, "notes/") || strings.Contains(lower, "/notes/")):
		return e.note(ctx, w, m)
	}
	return e.mediaOrOther(ctx, w, m)
}

// maxCardsFile bounds a vCard file read for contacts.
const maxVCFBytes = 1 << 30

// recordSink takes a document's records: the snapshot writer, or a lane
// of it that parses the document beside the media (sideDocs).
type recordSink interface {
	AddContact(ctx context.Context, c mapping.Contact) error
	AddPrepared(ctx context.Context, p *snapshot.PreparedMessage) error
	AddCall(ctx context.Context, c mapping.Call) error
	Skip(kind mapping.Kind, name, why string)
}

// recordDoc says whether m is a document of records only: a vCard file, or
// a JSONL file of messages or calls.
func recordDoc(m member) bool {
	base := path.Base(strings.ToLower(m.Name))
	return strings.HasSuffix(base, ".vcf") || strings.HasSuffix(base, ".vcard") || strings.HasSuffix(base, ".jsonl")
}

// records reads the records of m, a recordDoc, into w.
func records(ctx context.Context, w recordSink, m member) error {
	base := path.Base(strings.ToLower(m.Name))
	if !strings.HasSuffix(base, ".jsonl") {
		return contacts(ctx, w, m)
	}
	if strings.HasPrefix(base, "call") {
		return jsonl(ctx, m, same[mapping.Call], func(c mapping.Call) error { return w.AddCall(ctx, c) })
	}
	return jsonl(ctx, m, snapshot.PrepareMessage, func(p *snapshot.PreparedMessage) error { return w.AddPrepared(ctx, p) })
}

func contacts(ctx context.Context, w recordSink, m member) error {
	rc, err := m.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	for c, err := range mvcard.Decode(io.LimitReader(rc, maxVCFBytes), m.Name) {
		if errors.Is(err, mapping.ErrBadInput) {
			// One broken card costs that card, not the file: the decoder
			// goes on with the next one.
			w.Skip(mapping.KindContact, m.Name, err.Error())
			continue
		}
		if err != nil {
			return err
		}
		if err := w.AddContact(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// smsBackup reads an SMS Backup & Restore file (<smses> or <calls>), with
// MMS attachments stored in the snapshot.
func (e *Exporter) smsBackup(ctx context.Context, w *snapshot.Writer, m member, calls bool) error {
	rc, err := m.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	rd := smsxml.Reader{Name: m.Name, Attachment: func(msg *mapping.Message, p *mapping.Part, data io.Reader) error {
		p.File = smsxml.AttachmentPath(msg, p)
		_, err := w.AddFile(ctx, p.File, data, msg.Date)
		return err
	}}
	if calls {
		for c, err := range rd.Calls(rc) {
			if err != nil {
				return err
			}
			if err := w.AddCall(ctx, c); err != nil {
				return err
			}
		}
		return nil
	}
	for msg, err := range rd.Messages(rc) {
		if err != nil {
			return err
		}
		if err := w.AddMessage(ctx, msg); err != nil {
			return err
		}
	}
	return nil
}

// xmlRoot names the root element of an XML file from its first bytes.
func xmlRoot(head []byte) string {
	s := string(head)
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 || i+1 >= len(s) {
			return ""
		}
		s = s[i+1:]
		if s[0] == '?' || s[0] == '!' {
			continue
		}
		end := strings.IndexAny(s, " \t\r\n>/")
		if end < 0 {
			return ""
		}
		return s[:end]
	}
}

// maxLine bounds one JSONL record.
const maxLine = 64 << 20

func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > limit {
			return nil, fmt.Errorf("%w: a line longer than %d bytes", mapping.ErrBadInput, limit)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return out, err
	}
}

// maxNoteBytes bounds a note file.
const maxNoteBytes = 16 << 20

func (e *Exporter) note(ctx context.Context, w *snapshot.Writer, m member) error {
	rc, err := m.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxNoteBytes+1))
	if err != nil {
		return err
	}
	if len(b) > maxNoteBytes {
		return fmt.Errorf("%w: note larger than %d bytes", mapping.ErrBadInput, maxNoteBytes)
	}
	n := ParseNote(string(b))
	rel := strings.TrimPrefix(m.Name, "notes/")
	if n.Title == "" {
		n.Title = strings.TrimSuffix(path.Base(rel), path.Ext(rel))
	}
	if dir := path.Dir(rel); dir != "." {
		n.Folder = dir
	}
	if n.Modified.IsZero() {
		n.Modified = m.ModTime
	}
	return w.AddNote(ctx, n)
}

// ParseNote reads a Markdown note, understanding the header miexit writes
// ("# Title", then Created:/Modified:/Deleted: lines) so a snapshot used as
// a source gives back the same notes.
func ParseNote(s string) mapping.Note {
	var n mapping.Note
	rest := s
	if strings.HasPrefix(rest, "# ") {
		title, after, _ := strings.Cut(rest, "\n")
		n.Title = strings.TrimSpace(strings.TrimPrefix(title, "# "))
		rest = strings.TrimPrefix(after, "\n")
		for {
			line, after, ok := strings.Cut(rest, "\n")
			k, v, isField := strings.Cut(strings.TrimSuffix(line, "  "), ": ")
			if !ok || !isField {
				break
			}
			switch k {
			case "Created":
				n.Created, _ = time.Parse(time.RFC3339, v)
			case "Modified":
				n.Modified, _ = time.Parse(time.RFC3339, v)
			case "Deleted":
				n.Deleted = strings.HasPrefix(v, "yes")
			default:
				goto body
			}
			rest = after
		}
	body:
		rest = strings.TrimPrefix(rest, "\n")
	}
	n.Body = rest
	return n
}

func (e *Exporter) mediaOrOther(ctx context.Context, w *snapshot.Writer, m member) error {
	rel, mod := mediaPath(m)
	md := mapping.Media{Path: rel, Size: m.Size, ModTime: mod, Thumbnail: media.IsThumbnailPath("/" + m.Name), Local: m.local}
	open := func(context.Context) (io.ReadCloser, error) { return m.open() }
	if w.HasUnchanged(rel, m.Size, mod) {
		// The last export already took this file for a photo, video or
		// recording, and it has not changed: no need to read it again.
		return w.AddMediaHashed(ctx, md, open, m.hashed)
	}
	var head []byte
	var n int
	if m.hashed != nil && (len(m.hashed.Lead()) == snapshot.LeadLen || int64(len(m.hashed.Lead())) == m.hashed.Size) {
		// Read already, by the worker that hashed it.
		head = m.hashed.Lead()
		n = len(head)
	} else {
		rc, err := m.open()
		if err != nil {
			return err
		}
		head = make([]byte, snapshot.LeadLen)
		n, err = io.ReadFull(rc, head)
		rc.Close()
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
	}
	if miui.LooksLikeBackup(head[:n]) {
		// A backup renamed or copied without its .bak name.
		return e.miuiBackup(ctx, w, m)
	}
	if strings.HasSuffix(strings.ToLower(m.Name), ".xml") {
		switch xmlRoot(head[:n]) {
		case "smses":
			return e.smsBackup(ctx, w, m, false)
		case "calls":
			return e.smsBackup(ctx, w, m, true)
		}
	}
	mime := media.Sniff(head[:n])
	if mime == "" {
		w.NotUnderstood(m.Name, "not a photo, video, recording, vCard, JSONL or note")
		return nil
	}
	return w.AddMediaHashed(ctx, md, open, m.hashed)
}

// mediaPath is where a member goes under media/ and the date it keeps.
func mediaPath(m member) (string, time.Time) {
	rel := strings.TrimPrefix(m.Name, snapshot.MediaDir+"/")
	mod := m.ModTime
	if real, date, ok := media.RecorderName(rel); ok {
		// MIUI's recorder keeps recordings under coded names; the person
		// knows them by their real ones.
		rel = real
		if !date.IsZero() {
			mod = date
		}
	}
	return rel, mod
}

// descript reads a MIUI backup folder's descript.xml for the Android user
// of each .bak file (0 the owner, 999 the second space).
func (e *Exporter) descript(m member) error {
	rc, err := m.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	d, err := miui.ParseDescript(rc)
	if err != nil {
		// Only the user ids come from it: the .bak headers are the truth.
		e.p.Log.Warn("descript.xml unreadable; second-space backups are told apart by their attachments only", "file", m.Name, "err", err)
		return nil
	}
	dir := path.Dir(m.Name)
	for _, p := range d.Packages {
		if p.BakFile != "" && p.User != 0 {
			e.users[path.Join(dir, p.BakFile)] = p.User
		}
	}
	return nil
}

// miuiBackup reads one MIUI/HyperOS local backup file.
func (e *Exporter) miuiBackup(ctx context.Context, w *snapshot.Writer, m member) error {
	rc, err := m.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	prefix := path.Dir(m.Name)
	if prefix == "." {
		prefix = "miui"
	}
	res, err := miui.Read(ctx, rc, miui.SnapshotSink(w), miui.Options{
		Name: m.Name, Password: e.p.Password, Prefix: prefix, User: e.users[m.Name], Log: e.p.Log,
	})
	if err != nil {
		return err
	}
	if res.Kind == miui.KindUnknown {
		w.NotUnderstood(m.Name, "a backup of an app whose data miexit does not read")
	}
	return nil
}

// maxZipDepth bounds zips inside zips (a HyperOS backup zip inside a
// downloaded archive is two levels).
const maxZipDepth = 4

// nestedZip reads a zip found inside the archive. Its members are named
// "<zip path without .zip>/<member>", so they cannot collide with the
// archive's own files.
func (e *Exporter) nestedZip(ctx context.Context, w *snapshot.Writer, m member) error {
	if m.depth >= maxZipDepth {
		w.NotUnderstood(m.Name, fmt.Sprintf("a zip nested more than %d deep", maxZipDepth))
		return nil
	}
	rc, err := m.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// zip needs random access: spool the member to a temp file.
	f, err := os.CreateTemp("", "miexit-zip-*")
	if err != nil {
		return err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	n, err := io.Copy(f, io.LimitReader(rc, maxZipMember+1))
	if err != nil {
		return err
	}
	if n > maxZipMember {
		return fmt.Errorf("%w: nested zip larger than %d bytes", mapping.ErrBadInput, int64(maxZipMember))
	}
	zr, err := zip.NewReader(f, n)
	if err != nil {
		w.NotUnderstood(m.Name, "named .zip but not a readable zip: "+err.Error())
		return nil
	}
	prefix := strings.TrimSuffix(m.Name, path.Ext(m.Name))
	zw := &zipWalker{name: m.Name, zr: zr}
	return zw.walk(ctx, func(inner member) error {
		inner.Name = path.Join(prefix, inner.Name)
		inner.depth = m.depth + 1
		if err := e.one(ctx, w, inner); err != nil {
			return fmt.Errorf("%s: %w", inner.Name, err)
		}
		return nil
	}, func(name, why string) { w.Skip("", m.Name+"/"+name, why) })
}
