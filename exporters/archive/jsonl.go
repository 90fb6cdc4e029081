package archive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/miexit/miexit/mapping"
)

// Batches of JSONL lines decoded at once: small enough that the lines in
// flight stay a few MiB, large enough that handing them between goroutines
// costs nothing next to decoding them.
const (
	batchLines   = 256
	batchBytes   = 4 << 20
	batchesAhead = 3
)

// batch is a run of lines decoded by one goroutine; done closes when vals
// (or err) are ready.
type batch[T, R any] struct {
	lines []int
	raw   [][]byte
	prep  func(T) (R, error)
	vals  []R
	err   error
	done  chan struct{}
}

// jsonl decodes one JSON value per line of m, passes it through prep and
// hands the result to add, in the file's order. Decoding and prep run on
// other goroutines, a few batches ahead of add, so on a multi-core machine
// reading 100,000 messages costs about what writing them does.
func jsonl[T, R any](ctx context.Context, m member, prep func(T) (R, error), add func(R) error) error {
	rc, err := m.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	ctx, cancel := context.WithCancel(ctx)
	queue := make(chan *batch[T, R], batchesAhead)
	readErr := make(chan error, 1)
	go func() {
		defer close(queue)
		readErr <- readBatches(ctx, bufio.NewReaderSize(rc, 64<<10), prep, queue)
	}()
	// On an early return the reader must be gone before rc is closed.
	defer func() {
		cancel()
		for range queue {
		}
	}()
	for b := range queue {
		<-b.done
		for i, v := range b.vals {
			if err := add(v); err != nil {
				return fmt.Errorf("line %d: %w", b.lines[i], err)
			}
		}
		if b.err != nil {
			return b.err
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	return ctx.Err()
}

// readBatches reads lines into batches, starts decoding each, and queues
// them in order.
func readBatches[T, R any](ctx context.Context, br *bufio.Reader, prep func(T) (R, error), queue chan<- *batch[T, R]) error {
	b := &batch[T, R]{prep: prep}
	size := 0
	send := func() bool {
		if len(b.raw) == 0 {
			return true
		}
		b.done = make(chan struct{})
		go b.decode()
		select {
		case queue <- b:
		case <-ctx.Done():
			return false
		}
		b, size = &batch[T, R]{prep: prep}, 0
		return true
	}
	for line := 1; ; line++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		raw, err := readLine(br, maxLine)
		if err != nil && err != io.EOF {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			b.lines = append(b.lines, line)
			b.raw = append(b.raw, raw)
			size += len(raw)
		}
		if err == io.EOF {
			send()
			return nil
		}
		if (len(b.raw) >= batchLines || size >= batchBytes) && !send() {
			return ctx.Err()
		}
	}
}

func (b *batch[T, R]) decode() {
	defer close(b.done)
	b.vals = make([]R, 0, len(b.raw))
	for i, raw := range b.raw {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			b.err = fmt.Errorf("%w: line %d: %w", mapping.ErrBadInput, b.lines[i], err)
			break
		}
		r, err := b.prep(v)
		if err != nil {
			b.err = fmt.Errorf("line %d: %w", b.lines[i], err)
			break
		}
		b.vals = append(b.vals, r)
	}
	b.raw = nil
}

// same is the prep of values added as they are.
func same[T any](v T) (T, error) { return v, nil }
