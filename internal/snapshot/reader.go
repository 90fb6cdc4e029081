package snapshot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	entryjson "github.com/segmentio/encoding/json"
	"golang.org/x/sync/errgroup"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/mapping"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

// Reader reads a committed snapshot. It never loads the whole manifest:
// entries and records are streamed.
type Reader struct {
	dir string
	hdr header
}

// Open opens the snapshot in dir. A folder without manifest.json gives an
// error that wraps os.ErrNotExist.
func Open(dir string) (*Reader, error) {
	r := &Reader{dir: dir}
	f, err := os.Open(filepath.Join(dir, ManifestPath))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	if err := readHeader(dec, &r.hdr); err != nil {
		return nil, fmt.Errorf("snapshot %s: manifest.json: %w", dir, err)
	}
	if r.hdr.Version != manifestVersion {
		return nil, fmt.Errorf("%w: snapshot %s: manifest version %d, this miexit reads %d", mapping.ErrBadInput, dir, r.hdr.Version, manifestVersion)
	}
	return r, nil
}

// readHeader decodes the fields before "entries" and leaves dec positioned
// at the start of the entries array (or at the end of the object).
func readHeader(dec *json.Decoder, h *header) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		switch key {
		case "version":
			err = dec.Decode(&h.Version)
		case "source":
			err = dec.Decode(&h.Source)
		case "counts":
			err = dec.Decode(&h.Counts)
		case "source_state":
			err = dec.Decode(&h.SourceState)
		case "thumbnail_items":
			err = dec.Decode(&h.ThumbnailItems)
			if len(h.ThumbnailItems) > MaxThumbnailItems {
				h.ThumbnailItems = h.ThumbnailItems[:MaxThumbnailItems]
			}
		case "entries":
			return expectDelim(dec, '[')
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
	}
	return errors.New("no entries")
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := t.(json.Delim); !ok || got != d {
		return fmt.Errorf("expected %q, found %v", d, t)
	}
	return nil
}

// Dir is the snapshot's folder.
func (r *Reader) Dir() string { return r.dir }

// Source is the source the snapshot was exported from.
func (r *Reader) Source() string { return r.hdr.Source }

// SourceState is the source's state token when the snapshot was written
// (exporters.Stater), or "".
func (r *Reader) SourceState() string { return r.hdr.SourceState }

// Intact reports whether every whole file the manifest lists is in the
// snapshot with its size and (to the second) modification time, so a
// snapshot someone pruned by hand is never reused as it is.
func (r *Reader) Intact() (bool, error) {
	// The stats run on every core, a batch at a time: on a re-run this is
	// on the way to "nothing to do", beside the walk of the source.
	g := new(errgroup.Group)
	g.SetLimit(runtime.GOMAXPROCS(0))
	var broken atomic.Bool
	check := func(b []mapping.Entry) error {
		for _, e := range b {
			if broken.Load() {
				break
			}
			if !r.holds(e) {
				broken.Store(true)
			}
		}
		return nil
	}
	var batch []mapping.Entry
	var ferr error
	for e, err := range r.Files() {
		if err != nil {
			ferr = err
			break
		}
		if broken.Load() {
			break
		}
		if batch = append(batch, e); len(batch) == intactBatch {
			b := batch
			batch = nil
			g.Go(func() error { return check(b) })
		}
	}
	if len(batch) > 0 {
		g.Go(func() error { return check(batch) })
	}
	g.Wait()
	if ferr != nil {
		return false, ferr
	}
	return !broken.Load(), nil
}

// intactBatch is how many files one of Intact's goroutines checks.
const intactBatch = 64

// holds reports whether the snapshot holds e's file as its entry says.
func (r *Reader) holds(e mapping.Entry) bool {
	st, err := os.Stat(filepath.Join(r.dir, filepath.FromSlash(e.Path)))
	if err != nil || !st.Mode().IsRegular() || st.Size() != e.Size {
		return false
	}
	// An attachment the source gave no date keeps the time it was
	// written, which its entry does not record.
	return e.Modified.IsZero() || st.ModTime().Truncate(time.Second).Equal(e.Modified.Truncate(time.Second))
}

// ThumbnailItems names the reduced copies the export met instead of
// originals (at most MaxThumbnailItems; Counts().Thumbnails counts all).
func (r *Reader) ThumbnailItems() []string { return r.hdr.ThumbnailItems }

// Counts is what the snapshot holds.
func (r *Reader) Counts() mapping.Counts { return r.hdr.Counts }

// Entries streams the manifest's entries in the order they were written.
func (r *Reader) Entries() iter.Seq2[mapping.Entry, error] {
	return r.EntriesOf(nil)
}

// EntriesOf streams the manifest's entries as Entries does, but decodes
// only those whose kind want accepts (all, when want is nil); the others
// carry their Kind alone. Counting 100,000 messages this way costs a scan
// of their lines, not their decoding.
func (r *Reader) EntriesOf(want func(mapping.Kind) bool) iter.Seq2[mapping.Entry, error] {
	return func(yield func(mapping.Entry, error) bool) {
		f, err := os.Open(filepath.Join(r.dir, ManifestPath))
		if err != nil {
			yield(mapping.Entry{}, err)
			return
		}
		defer f.Close()
		br := bufio.NewReaderSize(f, spoolBufferBytes)
		if first, err := br.Peek(min(br.Size(), 4096)); (err == nil || err == io.EOF) && lineManifest(first) {
			r.scanLines(br, want, yield)
			return
		}
		dec := json.NewDecoder(br)
		var h header
		if err := readHeader(dec, &h); err != nil {
			yield(mapping.Entry{}, fmt.Errorf("snapshot %s: manifest.json: %w", r.dir, err))
			return
		}
		for dec.More() {
			var e mapping.Entry
			if err := dec.Decode(&e); err != nil {
				yield(mapping.Entry{}, fmt.Errorf("snapshot %s: manifest.json: %w", r.dir, err))
				return
			}
			if _, err := mapping.CleanRelPath(e.Path); err != nil {
				yield(mapping.Entry{}, fmt.Errorf("snapshot %s: manifest.json: %w", r.dir, err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// lineManifest reports whether a manifest starts as Writer writes it: the
// header and `"entries":[` on the first line, then one entry per line.
func lineManifest(head []byte) bool {
	i := bytes.IndexByte(head, '\n')
	return i > 0 && bytes.HasSuffix(head[:i], []byte(`"entries":[`))
}

// kindPrefix starts every entry line Writer writes (Kind is Entry's first
// field), so a line's kind is read without decoding it.
var kindPrefix = []byte(`{"kind":"`)

// kindOf is mapping.Kind(b) without allocating for the known kinds: a
// manifest has one line per message.
func kindOf(b []byte) mapping.Kind {
	for _, k := range mapping.Kinds {
		if string(b) == string(k) {
			return k
		}
	}
	return mapping.Kind(b)
}

func (r *Reader) scanLines(br *bufio.Reader, want func(mapping.Kind) bool, yield func(mapping.Entry, error) bool) {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	sc.Scan() // the header, read by Open
	fail := func(err error) { yield(mapping.Entry{}, fmt.Errorf("snapshot %s: manifest.json: %w", r.dir, err)) }
	for sc.Scan() {
		line := bytes.TrimSuffix(bytes.TrimSpace(sc.Bytes()), []byte(","))
		if len(line) == 0 {
			continue
		}
		if bytes.Equal(line, []byte("]}")) {
			return
		}
		if want != nil && bytes.HasPrefix(line, kindPrefix) {
			rest := line[len(kindPrefix):]
			if end := bytes.IndexByte(rest, '"'); end > 0 {
				if k := kindOf(rest[:end]); !want(k) {
					if !yield(mapping.Entry{Kind: k}, nil) {
						return
					}
					continue
				}
			}
		}
		var e mapping.Entry
		// segmentio's decoder gives encoding/json's results (FuzzEntryLine
		// holds it to that) at a sixth of the cost: a re-run reads each
		// media entry three times (snapshot check, import, verify).
		if err := entryjson.Unmarshal(line, &e); err != nil {
			fail(err)
			return
		}
		if _, err := mapping.CleanRelPath(e.Path); err != nil {
			fail(err)
			return
		}
		if !yield(e, nil) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		fail(err)
		return
	}
	fail(errors.New("truncated: no end of entries"))
}

// Files streams the entries that stand for a whole file (media, notes and
// other files), each path once: what a file-copying destination copies.
func (r *Reader) Files() iter.Seq2[mapping.Entry, error] {
	return func(yield func(mapping.Entry, error) bool) {
		for e, err := range r.EntriesOf(WholeFile) {
			if err != nil {
				yield(e, err)
				return
			}
			if !WholeFile(e.Kind) {
				continue
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// WholeFile reports whether entries of kind k are whole files (their sha256
// is the file's) rather than records inside a shared document.
func WholeFile(k mapping.Kind) bool {
	return k == mapping.KindMedia || k == mapping.KindNote || k == mapping.KindFile
}

// Open opens a file of the snapshot by its manifest path.
func (r *Reader) Open(rel string) (*os.File, error) { return Folder(r.dir).Open(rel) }

// Path returns the local path of a snapshot file.
func (r *Reader) Path(rel string) (string, error) { return Folder(r.dir).Path(rel) }

// Files opens a snapshot's files by manifest path: a *Reader, or the
// Folder of a snapshot still being written. Importers take it where a
// file is imported on its own (importers.FileStreamer).
type Files interface {
	Open(rel string) (*os.File, error)
	Path(rel string) (string, error)
}

// A Folder is a snapshot's folder seen only as its files, by manifest
// path: what an importer needs of a file while the snapshot is still
// being written and has no manifest for them yet (Options.MediaAdded).
type Folder string

// Open opens the file at manifest path rel.
func (f Folder) Open(rel string) (*os.File, error) {
	p, err := f.Path(rel)
	if err != nil {
		return nil, err
	}
	return fsutil.Open(p)
}

// Path returns the local path of the file at manifest path rel; a path
// that would leave the folder is an error.
func (f Folder) Path(rel string) (string, error) { return fsutil.Join(string(f), rel) }

// Messages streams the snapshot's messages.
func (r *Reader) Messages() iter.Seq2[mapping.Message, error] {
	return jsonLines[mapping.Message](r, MessagesPath)
}

// Calls streams the snapshot's call log.
func (r *Reader) Calls() iter.Seq2[mapping.Call, error] {
	return jsonLines[mapping.Call](r, CallsPath)
}

func jsonLines[T any](r *Reader, rel string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		f, err := r.Open(rel)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			yield(zero, err)
			return
		}
		defer f.Close()
		for rec, err := range Records(f, rel) {
			if err != nil {
				yield(zero, err)
				return
			}
			var v T
			if err := json.Unmarshal(rec.Data, &v); err != nil {
				yield(zero, fmt.Errorf("%s: record %s: %w", rel, rec.Key, err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// Record is one item inside a shared document (a card in contacts.vcf, a
// line in messages.jsonl) with the hash the manifest gives it.
type Record struct {
	Key    string
	Data   []byte
	SHA256 string
}

// maxRecord bounds one record, so a hostile document cannot exhaust memory.
// A variable so tests can lower it.
var maxRecord = maxMessageBytes + 1<<20

// Records splits a snapshot document (contacts.vcf or a .jsonl file, told
// apart by name) into records. Destinations use it to check, item by item,
// the copy they hold.
func Records(r io.Reader, name string) iter.Seq2[Record, error] {
	if strings.HasSuffix(name, ".vcf") {
		return vcfRecords(r, name)
	}
	return func(yield func(Record, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		for line := 1; ; line++ {
			b, err := readLine(br, maxRecord)
			if err == io.EOF && len(b) == 0 {
				return
			}
			if err != nil && err != io.EOF {
				yield(Record{}, fmt.Errorf("%s line %d: %w", name, line, err))
				return
			}
			if len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			var k struct {
				Key string `json:"key"`
			}
			if jerr := json.Unmarshal(b, &k); jerr != nil || k.Key == "" {
				yield(Record{}, fmt.Errorf("%w: %s line %d: not a record with a key", mapping.ErrBadInput, name, line))
				return
			}
			if !yield(newRecord(k.Key, b), nil) {
				return
			}
		}
	}
}

func newRecord(key string, data []byte) Record {
	sum := sha256.Sum256(data)
	return Record{Key: key, Data: data, SHA256: hex.EncodeToString(sum[:])}
}

// readLine reads one line including its newline, refusing lines over max.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > max {
			return nil, fmt.Errorf("%w: line longer than %d bytes", mapping.ErrBadInput, max)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return out, err
	}
}

func vcfRecords(r io.Reader, name string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		var card []byte
		key := ""
		in := false
		for line := 1; ; line++ {
			b, err := readLine(br, maxRecord)
			if err != nil && err != io.EOF {
				yield(Record{}, fmt.Errorf("%s line %d: %w", name, line, err))
				return
			}
			t := strings.TrimRight(string(b), "\r\n")
			switch {
			case strings.EqualFold(t, "BEGIN:VCARD"):
				in, card, key = true, card[:0], ""
			case strings.HasPrefix(strings.ToUpper(t), KeyField+":"):
				key = t[len(KeyField)+1:]
			}
			if in {
				card = append(card, b...)
				if len(card) > maxRecord {
					yield(Record{}, fmt.Errorf("%w: %s line %d: card larger than %d bytes", mapping.ErrBadInput, name, line, maxRecord))
					return
				}
			}
			if in && strings.EqualFold(t, "END:VCARD") {
				in = false
				if key == "" {
					yield(Record{}, fmt.Errorf("%w: %s line %d: card without %s", mapping.ErrBadInput, name, line, KeyField))
					return
				}
				if !yield(newRecord(key, bytes.Clone(card)), nil) {
					return
				}
			}
			if err == io.EOF {
				return
			}
		}
	}
}

// HashFile returns the sha256 and size of a file.
func HashFile(p string) (string, int64, error) { return hashFile(p, false) }

// CheckFile is HashFile for a file read only to be checked, as a
// destination's copy is: its cached pages are let go afterwards
// (fsutil.LetGo), so checking a library does not fill the page cache with
// it.
func CheckFile(p string) (string, int64, error) { return hashFile(p, true) }

func hashFile(p string, letGo bool) (string, int64, error) {
	// Non-blocking, then checked: a FIFO or device put where a file was
	// (at a destination, between its listing and this read) is an error,
	// never a read that waits forever.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return "", 0, err
	} else if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%s: not a regular file (%s)", p, st.Mode().Type())
	}
	h := sha256.New()
	n, err := fsutil.Copy(h, f)
	if err != nil {
		return "", n, err
	}
	if letGo {
		fsutil.LetGo(f)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Contacts streams the snapshot's contacts, decoded from contacts.vcf.
func (r *Reader) Contacts() iter.Seq2[mapping.Contact, error] {
	return func(yield func(mapping.Contact, error) bool) {
		f, err := r.Open(ContactsPath)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			yield(mapping.Contact{}, err)
			return
		}
		defer f.Close()
		for rec, err := range Records(f, ContactsPath) {
			if err != nil {
				yield(mapping.Contact{}, err)
				return
			}
			var c mapping.Contact
			for got, err := range mvcard.Decode(bytes.NewReader(rec.Data), ContactsPath) {
				if err != nil {
					yield(mapping.Contact{}, fmt.Errorf("%s: contact %s: %w", ContactsPath, rec.Key, err))
					return
				}
				c = got
				break
			}
			card := c.Card
			if !yield(mapping.Contact{Key: rec.Key, Card: card}, nil) {
				return
			}
		}
	}
}

// KindOf says which whole-file kind a snapshot path holds, as Writer lays
// them out; destinations use it to sort what they list.
func KindOf(rel string) mapping.Kind {
	switch {
	case strings.HasPrefix(rel, MediaDir+"/"):
		return mapping.KindMedia
	case strings.HasPrefix(rel, NoteFilesDir+"/"):
		return mapping.KindFile
	case strings.HasPrefix(rel, NotesDir+"/") && strings.HasSuffix(rel, ".md"):
		return mapping.KindNote
	}
	return mapping.KindFile
}

// Document is the shared document holding the records of kind k, or ""
// for whole-file kinds.
func Document(k mapping.Kind) string {
	switch k {
	case mapping.KindContact:
		return ContactsPath
	case mapping.KindMessage:
		return MessagesPath
	case mapping.KindCall:
		return CallsPath
	}
	return ""
}

// RemoteRecords reads a destination's copy of document doc and yields its
// records as verify wants them. Errors name where; the caller adds which
// destination.
func RemoteRecords(kind mapping.Kind, doc string, r io.Reader) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		for rec, err := range Records(r, doc) {
			if err != nil {
				yield(mapping.Remote{}, err)
				return
			}
			if !yield(mapping.Remote{Kind: kind, Key: rec.Key, Path: doc, Size: int64(len(rec.Data)), SHA256: rec.SHA256}, nil) {
				return
			}
		}
	}
}
