package snapshot

import (
	"context"
	"errors"
	"fmt"
	"math"

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
// with each placed lane's spliced in where Place marked it (Commit has
// checked that every lane was placed).
func (w *Writer) entryLines(yield func([]byte) error) error {
	main, err := w.entries.lines()
	if err != nil {
		return err
	}
	lanes := w.placed
	spliceUpTo := func(n int) error {
		for len(lanes) > 0 && lanes[0].at <= n {
			if err := lanes[0].sp.each(yield); err != nil {
				return err
			}
			lanes = lanes[1:]
		}
		return nil
	}
	for n := 0; ; n++ {
		if err := spliceUpTo(n); err != nil {
			return err
		}
		if !main.Scan() {
			break
		}
		if err := yield(main.Bytes()); err != nil {
			return err
		}
	}
	if err := main.Err(); err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	return spliceUpTo(math.MaxInt)
}
