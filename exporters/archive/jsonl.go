package archive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/miexit/miexit/internal/ordered"
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

// batch is a run of lines, decoded together by one worker.
type batch[R any] struct {
	lines []int
	vals  []R
	err   error
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
	// ordered.Run returns after the reader has stopped: rc is closed after.
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	opt := ordered.Options{Workers: min(runtime.GOMAXPROCS(0), batchesAhead), Ahead: batchesAhead}
	return ordered.Run(ctx, opt, func(q *ordered.Queue[*batch[R]]) error {
		return readBatches(q, br, prep)
	}, func(b *batch[R]) error {
		for i, v := range b.vals {
			if err := add(v); err != nil {
				return fmt.Errorf("line %d: %w", b.lines[i], err)
			}
		}
		return b.err
	})
}

// readBatches reads lines into batches and queues each to be decoded.
func readBatches[T, R any](q *ordered.Queue[*batch[R]], br *bufio.Reader, prep func(T) (R, error)) error {
	var lines []int
	var raw [][]byte
	size := 0
	send := func() error {
		if len(raw) == 0 {
			return nil
		}
		lines, raw := lines, raw
		err := q.Go(func(context.Context) (*batch[R], error) { return decode(lines, raw, prep), nil })
		size = 0
		return err
	}
	for line := 1; ; line++ {
		if err := q.Context().Err(); err != nil {
			return err
		}
		l, err := readLine(br, maxLine)
		if err != nil && err != io.EOF {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, line)
			raw = append(raw, l)
			size += len(l)
		}
		if err == io.EOF {
			return send()
		}
		if len(raw) >= batchLines || size >= batchBytes {
			if err := send(); err != nil {
				return err
			}
			lines, raw = nil, nil
		}
	}
}

// decode decodes a batch's lines; an error stops the batch at its line,
// after the values before it.
func decode[T, R any](lines []int, raw [][]byte, prep func(T) (R, error)) *batch[R] {
	b := &batch[R]{lines: lines, vals: make([]R, 0, len(raw))}
	for i, l := range raw {
		var v T
		if err := json.Unmarshal(l, &v); err != nil {
			b.err = fmt.Errorf("%w: line %d: %w", mapping.ErrBadInput, lines[i], err)
			break
		}
		r, err := prep(v)
		if err != nil {
			b.err = fmt.Errorf("line %d: %w", lines[i], err)
			break
		}
		b.vals = append(b.vals, r)
	}
	return b
}

// same is the prep of values added as they are.
func same[T any](v T) (T, error) { return v, nil }
