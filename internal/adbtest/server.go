package adbtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ServerFeatures are what Debian's adb 29 server supports.
var ServerFeatures = []string{"shell_v2", "cmd", "stat_v2", "ls_v2", "fixed_push_mkdir", "apex", "abb", "fixed_push_symlink_timestamp", "abb_exec", "remount_shell", "track_app"}

// Server is a fake adb host server: it answers the host protocol on
// loopback and runs device services on its fake devices directly, for
// machines where the adb program is missing.
type Server struct {
	Addr     string
	Features []string

	mu      sync.Mutex
	devices []*Device
	// Requests logs every host request, for tests.
	requests []string
}

// NewServer starts a fake host server with these devices; it stops when
// the test ends.
func NewServer(t testing.TB, devs ...*Device) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), Features: ServerFeatures, devices: devs}
	serve(t, ln, func(c net.Conn) {
		defer c.Close()
		s.handle(c)
	})
	return s
}

// Port is the server's port as a string, for ANDROID_ADB_SERVER_PORT.
func (s *Server) Port() string {
	_, p, _ := net.SplitHostPort(s.Addr)
	return p
}

// Add connects another device.
func (s *Server) Add(d *Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devices = append(s.devices, d)
}

// Requests lists the host requests received so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func okay(w io.Writer, payload *string) {
	if payload == nil {
		io.WriteString(w, "OKAY")
		return
	}
	fmt.Fprintf(w, "OKAY%04x%s", len(*payload), *payload)
}

func failMsg(w io.Writer, msg string) {
	fmt.Fprintf(w, "FAIL%04x%s", len(msg), msg)
}

func state(d *Device) string {
	if d.State == "" {
		return "device"
	}
	return d.State
}

const unauthorizedMsg = "device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set\nTry 'adb kill-server' if that seems wrong.\nOtherwise check for a confirmation dialog on your device."

// find resolves a serial (or any device when serial is empty) the way the
// real server does, returning its FAIL message on error.
func (s *Server) find(serial string, usable bool) (*Device, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d *Device
	if serial == "" {
		switch len(s.devices) {
		case 0:
			return nil, "no devices/emulators found"
		case 1:
			d = s.devices[0]
		default:
			return nil, "more than one device/emulator"
		}
	} else {
		for _, x := range s.devices {
			if x.Serial == serial {
				d = x
			}
		}
		if d == nil {
			return nil, fmt.Sprintf("device '%s' not found", serial)
		}
	}
	if usable {
		switch state(d) {
		case "device":
		case "unauthorized":
			return nil, unauthorizedMsg
		default:
			return nil, "device " + state(d)
		}
	}
	return d, ""
}

func (s *Server) handle(c net.Conn) {
	br := bufio.NewReader(c)
	var target *Device
	for {
		var h [4]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		n, err := strconv.ParseUint(string(h[:]), 16, 16)
		if err != nil {
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return
		}
		req := string(b)
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		switch {
		case req == "host:version":
			v := "0029"
			okay(c, &v)
			return
		case req == "host:devices" || req == "host:devices-l":
			var out strings.Builder
			s.mu.Lock()
			for _, d := range s.devices {
				if req == "host:devices" {
					fmt.Fprintf(&out, "%s\t%s\n", d.Serial, state(d))
					continue
				}
				fmt.Fprintf(&out, "%-22s %s", d.Serial, state(d))
				if state(d) == "device" {
					fmt.Fprintf(&out, " product:%s model:%s device:%s", d.Product, d.Model, d.Name)
				}
				fmt.Fprintf(&out, " transport_id:1\n")
			}
			s.mu.Unlock()
			v := out.String()
			okay(c, &v)
			return
		case req == "host:features":
			v := strings.Join(s.Features, ",")
			okay(c, &v)
			return
		case strings.HasPrefix(req, "host-serial:") && strings.HasSuffix(req, ":features"):
			serial := strings.TrimSuffix(strings.TrimPrefix(req, "host-serial:"), ":features")
			d, msg := s.find(serial, true)
			if d == nil {
				failMsg(c, msg)
				return
			}
			var shared []string
			for _, f := range d.Features {
				for _, g := range s.Features {
					if f == g {
						shared = append(shared, f)
					}
				}
			}
			v := strings.Join(shared, ",")
			okay(c, &v)
			return
		case strings.HasPrefix(req, "host:transport:") || req == "host:transport-any" || req == "host:transport-usb" || req == "host:transport-local":
			serial := strings.TrimPrefix(req, "host:transport:")
			if !strings.HasPrefix(req, "host:transport:") {
				serial = ""
			}
			d, msg := s.find(serial, true)
			if d == nil {
				failMsg(c, msg)
				return
			}
			target = d
			okay(c, nil)
		case req == "host:kill":
			okay(c, nil)
			return
		case strings.HasPrefix(req, "host"):
			failMsg(c, "unknown host service")
			return
		default:
			if target == nil {
				failMsg(c, "device offline (no transport)")
				return
			}
			okay(c, nil)
			target.serve(req, &hostStream{br: br, c: c})
			// Closing with unread input (a shell's stdin-close packet)
			// would reset the connection and lose the last output: half
			// close, then drain until the client hangs up, as adb does.
			if tc, ok := c.(*net.TCPConn); ok {
				tc.CloseWrite()
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, br)
			}
			return
		}
	}
}

// hostStream is a client connection turned into a device stream.
type hostStream struct {
	br *bufio.Reader
	c  net.Conn
}

func (h *hostStream) Read(p []byte) (int, error)  { return h.br.Read(p) }
func (h *hostStream) Write(p []byte) (int, error) { return h.c.Write(p) }

// serve accepts connections on ln and runs handle for each until the test
// ends, then closes the listener and every open connection and waits for
// the handlers.
func serve(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
}
