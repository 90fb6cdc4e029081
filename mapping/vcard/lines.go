package vcard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errLineTooLong reports a physical line over the limit; the reader has
// already skipped the rest of it, so decoding can go on after it.
type errLineTooLong struct {
	line, max int
}

func (e *errLineTooLong) Error() string {
	return fmt.Sprintf("line %d is longer than %d bytes", e.line, e.max)
}

// lineReader yields physical lines without their line ending, never holding
// more than max bytes of one: a 100 MB line costs a bounded buffer, and an
// error, not 100 MB.
type lineReader struct {
	br     *bufio.Reader
	max    int
	n      int // number of the last line returned
	back   []byte
	backN  int
	hasBak bool
	buf    []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// unread pushes one line back; next returns it again.
func (l *lineReader) unread(line []byte, n int) {
	l.back, l.backN, l.hasBak = line, n, true
}

// next returns the next line (valid until the following call unless
// pushed back) and its 1-based number.
func (l *lineReader) next() ([]byte, int, error) {
	if l.hasBak {
		l.hasBak = false
		return l.back, l.backN, nil
	}
	l.buf = l.buf[:0]
	l.n++
	over := false
	for {
		chunk, err := l.br.ReadSlice('\n')
		if !over {
			if len(l.buf)+len(chunk) > l.max+2 {
				over = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if over {
			if err != nil && err != io.EOF {
				return nil, l.n, err
			}
			return nil, l.n, &errLineTooLong{line: l.n, max: l.max}
		}
		if err == io.EOF {
			if len(l.buf) == 0 {
				l.n--
				return nil, l.n, io.EOF
			}
			err = nil
		}
		if err != nil {
			return nil, l.n, err
		}
		line := bytes.TrimSuffix(l.buf, []byte("\n"))
		// iOS 6 writes "\r\r\n"; every trailing CR is line ending.
		line = bytes.TrimRight(line, "\r")
		// Copy, so a pushed-back line survives the next read.
		return append([]byte(nil), line...), l.n, nil
	}
}
