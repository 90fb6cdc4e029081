package snapshot

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/mapping"
)

// header is the part of manifest.json before its entries. Entries come last,
// one per line, so readers and writers stream them.
type header struct {
	Version int            `json:"version"`
	Source  string         `json:"source"`
	Counts  mapping.Counts `json:"counts"`
	// SourceState is the source's exporters.Stater token when this
	// snapshot was written.
	SourceState string `json:"source_state,omitempty"`
	// ThumbnailItems names the first reduced copies the export met, so a
	// report made from this snapshot later (an unchanged re-run reuses it
	// without exporting) lists the same pictures as the first.
	ThumbnailItems []string `json:"thumbnail_items,omitempty"`
}

// spool collects entries on disk while an export runs, so memory does not
// grow with the number of items.
type spool struct {
	f   *os.File
	buf *bufio.Writer
	enc *json.Encoder
	n   int
}

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, fsutil.TempPrefix+"entries-*")
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	b := bufio.NewWriterSize(f, spoolBufferBytes)
	return &spool{f: f, buf: b, enc: json.NewEncoder(b)}, nil
}

func (s *spool) add(e mapping.Entry) error {
	s.n++
	if err := s.enc.Encode(&e); err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	return nil
}

// addEncoded adds an entry already encoded as one JSON line.
func (s *spool) addEncoded(line []byte) error {
	s.n++
	if _, err := s.buf.Write(line); err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	return nil
}

// lines rewinds the spool and scans its lines, one entry each.
func (s *spool) lines() (*bufio.Scanner, error) {
	if err := s.buf.Flush(); err != nil {
		return nil, fmt.Errorf("snapshot manifest: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("snapshot manifest: %w", err)
	}
	sc := bufio.NewScanner(s.f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return sc, nil
}

// each passes every line of the spool to fn.
func (s *spool) each(fn func([]byte) error) error {
	sc, err := s.lines()
	if err != nil {
		return err
	}
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	return nil
}

func (s *spool) close() {
	if s.f != nil {
		fsutil.Abort(s.f)
		s.f = nil
	}
}

// writeManifest writes manifest.json from the spool: the header, then
// "entries" as a JSON array with one entry per line.
func (w *Writer) writeManifest() error {
	dst := filepath.Join(w.dir, ManifestPath)
	out, err := fsutil.CreateTemp(dst)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, spoolBufferBytes)
	hb, err := json.Marshal(header{Version: manifestVersion, Source: w.opt.Source, Counts: w.counts, SourceState: w.opt.SourceState, ThumbnailItems: w.thumbs})
	if err != nil {
		fsutil.Abort(out)
		return err
	}
	// Splice the entries array into the header object by hand: the
	// header's closing brace is replaced by the array.
	bw.Write(hb[:len(hb)-1])
	bw.WriteString(`,"entries":[`)
	first := true
	if err := w.entryLines(func(line []byte) error {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteString("\n")
		_, err := bw.Write(line)
		return err
	}); err != nil {
		fsutil.Abort(out)
		return err
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		fsutil.Abort(out)
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	if err := fsutil.Commit(out, dst, true); err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	return fsutil.SyncDir(w.dir)
}
