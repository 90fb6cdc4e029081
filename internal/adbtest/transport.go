package adbtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Transport message commands, as little-endian ASCII.
const (
	aCNXN = 0x4e584e43
	aAUTH = 0x48545541
	aOPEN = 0x4e45504f
	aOKAY = 0x59414b4f
	aCLSE = 0x45534c43
	aWRTE = 0x45545257

	aVersion = 0x01000001 // checksums may be 0
	// MaxData is the largest payload the fake device advertises.
	MaxData = 1 << 20
)

// Listen serves the device's transport on a loopback port outside the
// range a new adb server probes for emulators (5555-5585), and returns its
// address. The listener closes when the test ends.
func (d *Device) Listen(t testing.TB) string {
	t.Helper()
	var ln net.Listener
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port >= 5550 && port <= 5590 {
			l.Close()
			continue
		}
		ln = l
		break
	}
	if ln == nil {
		t.Fatal("no free port outside 5550-5590")
	}
	serve(t, ln, d.serveTransport)
	return ln.Addr().String()
}

type message struct {
	cmd, arg0, arg1 uint32
	data            []byte
}

type transport struct {
	d       *Device
	c       net.Conn
	br      *bufio.Reader
	wmu     sync.Mutex
	maxdata uint32

	mu      sync.Mutex
	streams map[uint32]*tstream
	nextID  uint32
	wg      sync.WaitGroup
}

func (tr *transport) write(cmd, arg0, arg1 uint32, data []byte) error {
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], cmd)
	le.PutUint32(h[4:], arg0)
	le.PutUint32(h[8:], arg1)
	le.PutUint32(h[12:], uint32(len(data)))
	le.PutUint32(h[16:], 0)
	le.PutUint32(h[20:], cmd^0xffffffff)
	tr.wmu.Lock()
	defer tr.wmu.Unlock()
	if _, err := tr.c.Write(h[:]); err != nil {
		return err
	}
	if len(data) > 0 {
		if _, err := tr.c.Write(data); err != nil {
			return err
		}
	}
	return nil
}

func (tr *transport) read() (message, error) {
	var h [24]byte
	if _, err := io.ReadFull(tr.br, h[:]); err != nil {
		return message{}, err
	}
	le := binary.LittleEndian
	m := message{cmd: le.Uint32(h[0:]), arg0: le.Uint32(h[4:]), arg1: le.Uint32(h[8:])}
	if le.Uint32(h[20:]) != m.cmd^0xffffffff {
		return m, errors.New("bad magic")
	}
	n := le.Uint32(h[12:])
	if n > 2*MaxData {
		return m, fmt.Errorf("payload of %d bytes", n)
	}
	m.data = make([]byte, n)
	if _, err := io.ReadFull(tr.br, m.data); err != nil {
		return m, err
	}
	return m, nil
}

func (d *Device) serveTransport(c net.Conn) {
	defer c.Close()
	tr := &transport{d: d, c: c, br: bufio.NewReaderSize(c, 2*MaxData), maxdata: MaxData, streams: map[uint32]*tstream{}}
	defer func() {
		tr.mu.Lock()
		for _, s := range tr.streams {
			s.close()
		}
		tr.mu.Unlock()
		tr.wg.Wait()
	}()
	for {
		m, err := tr.read()
		if err != nil {
			return
		}
		switch m.cmd {
		case aCNXN:
			if m.arg1 > 0 && m.arg1 < tr.maxdata {
				tr.maxdata = m.arg1
			}
			// Answering CNXN with CNXN skips authentication.
			if err := tr.write(aCNXN, aVersion, MaxData, []byte(d.banner())); err != nil {
				return
			}
		case aAUTH:
			// Not expected: we never send an AUTH token.
		case aOPEN:
			name := string(m.data)
			if i := indexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			tr.mu.Lock()
			tr.nextID++
			s := newTStream(tr, tr.nextID, m.arg0)
			tr.streams[s.local] = s
			tr.mu.Unlock()
			if err := tr.write(aOKAY, s.local, s.remote, nil); err != nil {
				return
			}
			tr.wg.Add(1)
			go func() {
				defer tr.wg.Done()
				d.serve(name, s)
				s.finish()
			}()
		case aOKAY:
			if s := tr.stream(m.arg1); s != nil {
				select {
				case s.okay <- struct{}{}:
				default:
				}
			}
		case aWRTE:
			s := tr.stream(m.arg1)
			if s == nil {
				tr.write(aCLSE, 0, m.arg0, nil)
				continue
			}
			s.push(m.data)
			if err := tr.write(aOKAY, s.local, s.remote, nil); err != nil {
				return
			}
		case aCLSE:
			if s := tr.stream(m.arg1); s != nil {
				s.hungUp()
			}
		}
	}
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

func (tr *transport) stream(id uint32) *tstream {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.streams[id]
}

// tstream is one service stream over the transport.
type tstream struct {
	tr            *transport
	local, remote uint32
	okay          chan struct{}
	done          chan struct{} // closed when the host hangs up
	once          sync.Once

	mu     sync.Mutex
	cond   *sync.Cond
	in     []byte
	closed bool
	hung   bool
}

func newTStream(tr *transport, local, remote uint32) *tstream {
	s := &tstream{tr: tr, local: local, remote: remote, okay: make(chan struct{}, 1), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *tstream) push(b []byte) {
	s.mu.Lock()
	s.in = append(s.in, b...)
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *tstream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.in) == 0 && !s.closed {
		s.cond.Wait()
	}
	if len(s.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.in)
	s.in = s.in[n:]
	return n, nil
}

// Write sends p as WRTE messages of at most maxdata bytes, one in flight
// at a time: each waits for the host's OKAY.
func (s *tstream) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), int(s.tr.maxdata))
		select {
		case <-s.done:
			return written, errClosed
		default:
		}
		if err := s.tr.write(aWRTE, s.local, s.remote, p[:n]); err != nil {
			return written, err
		}
		select {
		case <-s.okay:
		case <-s.done:
			return written, errClosed
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

func (s *tstream) close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.once.Do(func() { close(s.done) })
}

// hungUp is the host's CLSE.
func (s *tstream) hungUp() {
	s.mu.Lock()
	s.hung = true
	s.mu.Unlock()
	s.close()
}

// finish ends the service: tell the host unless it hung up first.
func (s *tstream) finish() {
	s.mu.Lock()
	hung := s.hung
	s.mu.Unlock()
	s.close()
	s.tr.mu.Lock()
	delete(s.tr.streams, s.local)
	s.tr.mu.Unlock()
	if !hung {
		s.tr.write(aCLSE, s.local, s.remote, nil)
	}
}

// Serial of a TCP-connected fake as the real adb server names it.
func SerialOf(addr string) string { return addr }

var _ = strconv.Itoa
