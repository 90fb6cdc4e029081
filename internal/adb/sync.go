package adb

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"strings"
	"time"
)

// maxSyncData is the largest DATA chunk a device sends; more means the
// stream is corrupt.
const (
	maxSyncData = 64 << 10
	maxNameLen  = 4096
)

// FileInfo is what the sync service knows about a file.
type FileInfo struct {
	Name    string // base name for LIST entries; the path for Stat
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
}

// IsDir reports a directory.
func (f FileInfo) IsDir() bool { return f.Mode.IsDir() }

// IsRegular reports a plain file.
func (f FileInfo) IsRegular() bool { return f.Mode.IsRegular() }

// Sync is one session of the device's file service. It handles one request
// at a time: a file opened with Recv must be read to its end or closed
// before the next call. Not safe for concurrent use; open several sessions
// to copy in parallel.
type Sync struct {
	d    *Device
	rc   io.ReadWriteCloser
	br   *bufio.Reader
	ctx  context.Context
	v2   bool // stat_v2
	ls2  bool // ls_v2
	busy bool
	err  error // a broken session stays broken
}

// Sync opens a file-service session.
func (d *Device) Sync(ctx context.Context) (*Sync, error) {
	f, err := d.Features(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := d.Open(ctx, "sync:")
	if err != nil {
		return nil, fmt.Errorf("sync with %s: %w", d.Serial, err)
	}
	return &Sync{d: d, rc: rc, br: bufio.NewReaderSize(rc, 256<<10), ctx: ctx, v2: f["stat_v2"], ls2: f["ls_v2"]}, nil
}

// Err is the error that broke the session, nil while it is usable.
func (s *Sync) Err() error { return s.err }

// Close ends the session.
func (s *Sync) Close() error {
	if s.err == nil && !s.busy {
		s.request("QUIT", "")
	}
	return s.rc.Close()
}

func (s *Sync) request(id, path string) error {
	if s.err != nil {
		return s.err
	}
	if s.busy {
		return errors.New("adb sync: previous file not finished")
	}
	if len(path) > maxNameLen {
		return fmt.Errorf("adb sync %s %q: path too long", id, path)
	}
	buf := make([]byte, 8+len(path))
	copy(buf, id)
	binary.LittleEndian.PutUint32(buf[4:], uint32(len(path)))
	copy(buf[8:], path)
	if _, err := s.rc.Write(buf); err != nil {
		return s.fail(fmt.Errorf("adb sync %s %s: %w", id, path, err))
	}
	return nil
}

func (s *Sync) fail(err error) error {
	err = ctxErr(s.ctx, err)
	s.err = err
	return err
}

func (s *Sync) read(b []byte) error {
	_, err := io.ReadFull(s.br, b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readFail reads the message of a FAIL record whose length is n.
func (s *Sync) readFail(n uint32) string {
	if n > 64<<10 {
		return "(message too long)"
	}
	b := make([]byte, n)
	if err := s.read(b); err != nil {
		return "(message lost)"
	}
	return string(b)
}

// Stat describes path, following symlinks when the device has stat_v2 (a
// plain STAT is lstat: use "/sdcard/" with a slash on old devices). A
// missing file is an error wrapping fs.ErrNotExist.
func (s *Sync) Stat(path string) (FileInfo, error) {
	if s.v2 {
		if err := s.request("STA2", path); err != nil {
			return FileInfo{}, err
		}
		var b [72]byte
		if err := s.read(b[:]); err != nil {
			return FileInfo{}, s.fail(fmt.Errorf("adb stat %s: %w", path, err))
		}
		if string(b[:4]) != "STA2" {
			return FileInfo{}, s.fail(fmt.Errorf("adb stat %s: unexpected %q", path, b[:4]))
		}
		fi, errno := parseStat2(b[4:])
		if errno != 0 {
			return FileInfo{}, fmt.Errorf("adb stat %s: %w", path, errnoErr(errno))
		}
		fi.Name = path
		return fi, nil
	}
	if err := s.request("STAT", path); err != nil {
		return FileInfo{}, err
	}
	var b [16]byte
	if err := s.read(b[:]); err != nil {
		return FileInfo{}, s.fail(fmt.Errorf("adb stat %s: %w", path, err))
	}
	if string(b[:4]) != "STAT" {
		return FileInfo{}, s.fail(fmt.Errorf("adb stat %s: unexpected %q", path, b[:4]))
	}
	mode := binary.LittleEndian.Uint32(b[4:])
	if mode == 0 {
		return FileInfo{}, fmt.Errorf("adb stat %s: %w", path, fs.ErrNotExist)
	}
	return FileInfo{
		Name:    path,
		Mode:    unixMode(mode),
		Size:    int64(binary.LittleEndian.Uint32(b[8:])),
		ModTime: time.Unix(int64(binary.LittleEndian.Uint32(b[12:])), 0),
	}, nil
}

// parseStat2 reads the fields after the id of a stat_v2/dent_v2 record:
// error u32, dev u64, ino u64, mode u32, nlink u32, uid u32, gid u32,
// size u64, atime i64, mtime i64, ctime i64.
func parseStat2(b []byte) (FileInfo, uint32) {
	le := binary.LittleEndian
	errno := le.Uint32(b[0:])
	return FileInfo{
		Mode:    unixMode(le.Uint32(b[20:])),
		Size:    int64(le.Uint64(b[36:])),
		ModTime: time.Unix(int64(le.Uint64(b[52:])), 0),
	}, errno
}

func errnoErr(e uint32) error {
	switch e {
	case 2: // ENOENT
		return fs.ErrNotExist
	case 13, 1: // EACCES, EPERM
		return fs.ErrPermission
	}
	return fmt.Errorf("errno %d", e)
}

// unixMode converts st_mode to an fs.FileMode.
func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & 0o170000 {
	case 0o040000:
		mode |= fs.ModeDir
	case 0o120000:
		mode |= fs.ModeSymlink
	case 0o020000:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		mode |= fs.ModeDevice
	case 0o010000:
		mode |= fs.ModeNamedPipe
	case 0o140000:
		mode |= fs.ModeSocket
	case 0o100000:
	default:
		mode |= fs.ModeIrregular
	}
	return mode
}

// List yields the entries of a directory, without "." and "..". Names are
// the device's raw bytes: untrusted. The session is busy until the
// sequence ends; stop early only by closing the session.
func (s *Sync) List(path string) iter.Seq2[FileInfo, error] {
	return func(yield func(FileInfo, error) bool) {
		req := "LIST"
		if s.ls2 {
			req = "LIS2"
		}
		if err := s.request(req, path); err != nil {
			yield(FileInfo{}, err)
			return
		}
		s.busy = true
		hdrLen := 20
		if s.ls2 {
			hdrLen = 76
		}
		hdr := make([]byte, hdrLen)
		for {
			if err := s.read(hdr); err != nil {
				s.busy = false
				yield(FileInfo{}, s.fail(fmt.Errorf("adb list %s: %w", path, err)))
				return
			}
			le := binary.LittleEndian
			var fi FileInfo
			var nameLen uint32
			// A record of the other listing's shape would be read with the
			// wrong length (a DNT2 in a 20-byte LIST header is cut short).
			switch rec := string(hdr[:4]); {
			case rec == "DENT" && s.ls2, rec == "DNT2" && !s.ls2:
				s.busy = false
				yield(FileInfo{}, s.fail(fmt.Errorf("adb list %s: unexpected %q in a %s listing", path, hdr[:4], req)))
				return
			}
			switch string(hdr[:4]) {
			case "DONE":
				s.busy = false
				return
			case "FAIL":
				s.busy = false
				msg := s.readFail(le.Uint32(hdr[4:]))
				yield(FileInfo{}, &FailError{Request: "list " + path, Message: msg})
				return
			case "DENT":
				fi = FileInfo{Mode: unixMode(le.Uint32(hdr[4:])), Size: int64(le.Uint32(hdr[8:])), ModTime: time.Unix(int64(le.Uint32(hdr[12:])), 0)}
				nameLen = le.Uint32(hdr[16:])
			case "DNT2":
				var errno uint32
				fi, errno = parseStat2(hdr[4:])
				nameLen = le.Uint32(hdr[72:])
				_ = errno // an entry that cannot be stat'ed still has a name
			default:
				s.busy = false
				yield(FileInfo{}, s.fail(fmt.Errorf("adb list %s: unexpected %q", path, hdr[:4])))
				return
			}
			if nameLen > maxNameLen {
				s.busy = false
				yield(FileInfo{}, s.fail(fmt.Errorf("adb list %s: entry name of %d bytes", path, nameLen)))
				return
			}
			name := make([]byte, nameLen)
			if err := s.read(name); err != nil {
				s.busy = false
				yield(FileInfo{}, s.fail(fmt.Errorf("adb list %s: %w", path, err)))
				return
			}
			fi.Name = string(name)
			if fi.Name == "." || fi.Name == ".." {
				continue
			}
			if !yield(fi, nil) {
				// The rest of the listing is still on the wire: the
				// session cannot be reused.
				s.busy = false
				s.fail(errors.New("adb sync: listing abandoned"))
				return
			}
		}
	}
}

// Recv opens a file for reading. The reader must be read to io.EOF (or
// closed, which ends the session) before the session is used again.
func (s *Sync) Recv(path string) (io.ReadCloser, error) {
	if err := s.request("RECV", path); err != nil {
		return nil, err
	}
	s.busy = true
	return &recvReader{s: s, path: path}, nil
}

type recvReader struct {
	s    *Sync
	path string
	left uint32
	done bool
	err  error
}

func (r *recvReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	s := r.s
	for r.left == 0 {
		var hdr [8]byte
		if err := s.read(hdr[:]); err != nil {
			r.err = s.fail(fmt.Errorf("adb pull %s: %w", r.path, err))
			return 0, r.err
		}
		n := binary.LittleEndian.Uint32(hdr[4:])
		switch string(hdr[:4]) {
		case "DATA":
			if n > maxSyncData {
				r.err = s.fail(fmt.Errorf("adb pull %s: data chunk of %d bytes", r.path, n))
				return 0, r.err
			}
			r.left = n
		case "DONE":
			r.done = true
			s.busy = false
			return 0, io.EOF
		case "FAIL":
			msg := s.readFail(n)
			s.busy = false
			r.err = &FailError{Request: "pull " + r.path, Message: msg}
			if isNotExist(msg) {
				r.err = fmt.Errorf("%w: %w", r.err, fs.ErrNotExist)
			}
			return 0, r.err
		default:
			r.err = s.fail(fmt.Errorf("adb pull %s: unexpected %q", r.path, hdr[:4]))
			return 0, r.err
		}
	}
	if uint32(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := s.br.Read(p)
	r.left -= uint32(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = s.fail(fmt.Errorf("adb pull %s: %w", r.path, err))
		return n, r.err
	}
	return n, nil
}

func isNotExist(msg string) bool {
	return strings.Contains(msg, "No such file") || strings.Contains(msg, "does not exist")
}

// Close abandons the file; unless it was read to its end, the session
// cannot be used again.
func (r *recvReader) Close() error {
	if !r.done && r.err == nil {
		r.err = errors.New("adb pull: file closed before its end")
		r.s.busy = false
		r.s.fail(fmt.Errorf("adb pull %s: abandoned", r.path))
	}
	return nil
}
