package adb

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func TestReadAheadGivesTheSameBytes(t *testing.T) {
	for _, size := range []int{0, 1, aheadChunk - 1, aheadChunk, aheadChunk + 1, 5*aheadChunk + 77} {
		data := make([]byte, size)
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		src := &closeCounter{Reader: iotest.OneByteReader(bytes.NewReader(data))}
		if size > 1000 {
			src.Reader = iotest.HalfReader(bytes.NewReader(data))
		}
		r := newReadAhead(src)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes, err %v", size, len(got), err)
		}
		r.Close()
		r.Close()
		if src.closed != 1 {
			t.Fatalf("size %d: underlying closed %d times", size, src.closed)
		}
	}
}

func TestReadAheadPassesErrorsAfterTheData(t *testing.T) {
	boom := errors.New("connection reset")
	data := bytes.Repeat([]byte("x"), aheadChunk+10)
	r := newReadAhead(&closeCounter{Reader: io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))})
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) || len(got) != len(data) {
		t.Fatalf("got %d bytes, err %v", len(got), err)
	}
	r.Close()
}

func TestReadAheadCloseEarlyStopsReading(t *testing.T) {
	src := &closeCounter{Reader: bytes.NewReader(make([]byte, 50*aheadChunk))}
	r := newReadAhead(src)
	buf := make([]byte, 10)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if src.closed != 1 {
		t.Fatal("underlying reader not closed")
	}
}
