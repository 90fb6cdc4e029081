package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/miexit/miexit/mapping"
)

// A Lane adds one run of records (a vCard file's contacts, a JSONL file's
// messages) on another goroutine while the export goes on with other
// files: the records go to their documents as the Writer's own Add
// methods would put them, and their manifest entries wait in the lane's
// own spool until Commit puts them where Place marked. So an export that
// parses its contacts and messages beside its photos writes the manifest
// a sequential export writes, provided nothing else adds records of the
// lane's kinds meanwhile (their documents would interleave).
type Lane struct {
	w      *Writer
	sp     *spool
	at     int // entries added outside lanes before it; set by Place
	placed bool
}

// Lane starts a lane. Every lane must be placed before Commit.
func (w *Writer) Lane() (*Lane, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("snapshot: writer already committed")
	}
	l := &Lane{w: w}
	if !w.opt.DryRun {
		sp, err := newSpool(w.dir)
		if err != nil {
			return nil, err
		}
		l.sp = sp
	}
	w.lanes = append(w.lanes, l)
	return l, nil
}

// Place marks where the lane's entries go: after every entry added
// outside lanes so far (and after the lanes placed before it). Call it
// where a sequential export would have added the lane's records.
func (l *Lane) Place() {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	if l.placed {
		return
	}
	l.placed = true
	if l.sp != nil {
		l.at = l.w.entries.n
	}
	l.w.placed = append(l.w.placed, l)
}

// AddContact is Writer.AddContact through the lane.
func (l *Lane) AddContact(ctx context.Context, c mapping.Contact) error {
	return l.w.addContact(ctx, l, c)
}

// AddPrepared is Writer.AddPrepared through the lane.
func (l *Lane) AddPrepared(ctx context.Context, p *PreparedMessage) error {
	return l.w.addPrepared(ctx, l, p)
}

// AddCall is Writer.AddCall through the lane.
func (l *Lane) AddCall(ctx context.Context, c mapping.Call) error {
	return l.w.addCall(ctx, l, c)
}

// Skip is Writer.Skip.
func (l *Lane) Skip(kind mapping.Kind, name, why string) { l.w.Skip(kind, name, why) }

// closeLanes removes the lanes' spools.
func (w *Writer) closeLanes() {
	for _, l := range w.lanes {
		if l.sp != nil {
			l.sp.close()
		}
	}
}

// unplaced fails when a lane was never placed: its records would have no
// place in the manifest.
func (w *Writer) unplaced() error {
	for _, l := range w.lanes {
		if !l.placed {
			return errors.New("snapshot: a lane of records was never placed in the manifest")
		}
	}
	return nil
}

// entryLines yields the manifest's entry lines in order: the spool's,
// with each placed lane's spliced in where Place marked it.
func (w *Writer) entryLines(yield func([]byte) error) error {
	if err := w.unplaced(); err != nil {
		return err
	}
	scan := func(sp *spool, each func([]byte) error) (*bufio.Scanner, error) {
		if err := sp.buf.Flush(); err != nil {
			return nil, err
		}
		if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(sp.f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		if each == nil {
			return sc, nil
		}
		for sc.Scan() {
			if err := each(sc.Bytes()); err != nil {
				return nil, err
			}
		}
		return nil, sc.Err()
	}
	main, err := scan(w.entries, nil)
	if err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	lanes := w.placed
	n := 0
	for {
		for len(lanes) > 0 && lanes[0].at <= n {
			if _, err := scan(lanes[0].sp, yield); err != nil {
				return fmt.Errorf("snapshot manifest: %w", err)
			}
			lanes = lanes[1:]
		}
		if !main.Scan() {
			break
		}
		if err := yield(main.Bytes()); err != nil {
			return err
		}
		n++
	}
	if err := main.Err(); err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	for _, l := range lanes {
		if _, err := scan(l.sp, yield); err != nil {
			return fmt.Errorf("snapshot manifest: %w", err)
		}
	}
	return nil
}
