package adb

import (
	"context"
	"io"
	"sync"

	"github.com/miexit/miexit/internal/ordered"
)

// Read-ahead sizes: a few chunks of the sync protocol's largest DATA
// record (64 KiB) and more, so the phone's stream keeps flowing while the
// snapshot hashes and writes what came before.
const (
	aheadChunk = 256 << 10
	aheadDepth = 4
)

var aheadBuffers = sync.Pool{New: func() any { b := make([]byte, aheadChunk); return &b }}

type chunk struct {
	buf *[]byte
	n   int
	err error
}

func releaseChunk(c chunk) {
	if c.buf != nil {
		aheadBuffers.Put(c.buf)
	}
}

// readAhead reads rc on its own goroutine, a few chunks ahead of the
// caller: pulling from the phone and hashing and writing the snapshot then
// overlap instead of taking turns. The chunks travel through an
// ordered.Queue, the one bounded hand-off every export uses. Close waits
// for the reading goroutine before closing rc, so the sync session is
// never used by two goroutines.
type readAhead struct {
	rc   io.ReadCloser
	q    *ordered.Queue[chunk]
	done chan struct{}
	cur  chunk
	off  int
	err  error
	once sync.Once
}

func newReadAhead(rc io.ReadCloser) *readAhead {
	r := &readAhead{rc: rc, q: ordered.New[chunk](context.Background(), ordered.Options{Ahead: aheadDepth}), done: make(chan struct{})}
	go r.fill()
	return r
}

func (r *readAhead) fill() {
	defer close(r.done)
	defer r.q.Close()
	for {
		bp := aheadBuffers.Get().(*[]byte)
		n, err := io.ReadFull(r.rc, *bp)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if r.q.Put(chunk{buf: bp, n: n, err: err}) != nil {
			aheadBuffers.Put(bp) // stopped by Close
			return
		}
		if err != nil {
			return
		}
	}
}

func (r *readAhead) Read(p []byte) (int, error) {
	for r.cur.buf == nil || r.off == r.cur.n {
		if r.cur.buf != nil {
			if r.cur.err != nil {
				r.err = r.cur.err
			}
			releaseChunk(r.cur)
			r.cur = chunk{}
		}
		if r.err != nil {
			return 0, r.err
		}
		c, ok, _ := r.q.Next()
		if !ok {
			return 0, io.EOF
		}
		r.cur, r.off = c, 0
	}
	n := copy(p, (*r.cur.buf)[r.off:r.cur.n])
	r.off += n
	return n, nil
}

func (r *readAhead) Close() error {
	var err error
	r.once.Do(func() {
		r.q.Drain(releaseChunk)
		<-r.done
		releaseChunk(r.cur)
		r.cur = chunk{}
		err = r.rc.Close()
	})
	return err
}
