package miui

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/miexit/miexit/mapping"
)

// spoolMem is how much of a payload stays in memory before it spills to a
// temp file.
const spoolMem = 8 << 20

// spool holds the payload for random access while it is decoded.
type spool struct {
	io.ReaderAt
	size int64
	f    *os.File
}

func newSpool(r io.Reader, max int64, dir string) (*spool, error) {
	head, err := io.ReadAll(io.LimitReader(r, spoolMem+1))
	if err != nil {
		return nil, err
	}
	if int64(len(head)) > max {
		return nil, fmt.Errorf("%w: payload is larger than %d bytes", mapping.ErrBadInput, max)
	}
	if len(head) <= spoolMem {
		return &spool{ReaderAt: bytes.NewReader(head), size: int64(len(head))}, nil
	}
	f, err := os.CreateTemp(dir, "miexit-miui-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("payload spool: %w", err)
	}
	// The name is not needed: the file lives as long as it is open.
	os.Remove(f.Name())
	s := &spool{ReaderAt: f, f: f}
	n, err := io.Copy(f, io.MultiReader(bytes.NewReader(head), io.LimitReader(r, max-int64(len(head))+1)))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("payload spool: %w", err)
	}
	if n > max {
		f.Close()
		return nil, fmt.Errorf("%w: payload is larger than %d bytes", mapping.ErrBadInput, max)
	}
	s.size = n
	return s, nil
}

func (s *spool) Close() {
	if s.f != nil {
		s.f.Close()
	}
}

func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}
