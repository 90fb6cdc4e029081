package adb

import (
	"io"
	"sync"
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

// readAhead reads rc on its own goroutine, a few chunks ahead of the
// caller: pulling from the phone and hashing and writing the snapshot then
// overlap instead of taking turns. Close waits for that goroutine before
// closing rc, so the sync session is never used by two goroutines.
type readAhead struct {
	rc   io.ReadCloser
	ch   chan chunk
	stop chan struct{}
	done chan struct{}
	cur  chunk
	off  int
	err  error
	once sync.Once
}

func newReadAhead(rc io.ReadCloser) *readAhead {
	r := &readAhead{rc: rc, ch: make(chan chunk, aheadDepth), stop: make(chan struct{}), done: make(chan struct{})}
	go r.fill()
	return r
}

func (r *readAhead) fill() {
	defer close(r.done)
	defer close(r.ch)
	for {
		bp := aheadBuffers.Get().(*[]byte)
		n, err := io.ReadFull(r.rc, *bp)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case r.ch <- chunk{buf: bp, n: n, err: err}:
		case <-r.stop:
			aheadBuffers.Put(bp)
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
			aheadBuffers.Put(r.cur.buf)
			r.cur = chunk{}
		}
		if r.err != nil {
			return 0, r.err
		}
		c, ok := <-r.ch
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
		close(r.stop)
		for c := range r.ch {
			aheadBuffers.Put(c.buf)
		}
		<-r.done
		if r.cur.buf != nil {
			aheadBuffers.Put(r.cur.buf)
			r.cur = chunk{}
		}
		err = r.rc.Close()
	})
	return err
}
