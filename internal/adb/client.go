// Package adb is a client of the adb server's host protocol: it lists
// devices, runs shell commands (v1 and v2) and reads files through the sync
// service. It talks to the adb server the Android platform tools run
// (127.0.0.1:5037 by default), never to a device directly, and knows nothing
// about the program using it.
package adb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultPort is the adb server's port when ANDROID_ADB_SERVER_PORT is unset.
const DefaultPort = 5037

// Errors callers branch on. Their messages say what a person can do.
var (
	// ErrNoADB: no server is running and no adb program is installed.
	ErrNoADB = errors.New("adb is not installed and no adb server is running: install the Android SDK platform tools " +
		"(https://developer.android.com/tools/releases/platform-tools; Debian/Ubuntu: apt install adb; macOS: brew install android-platform-tools; " +
		"Windows: winget install Google.PlatformTools) and make sure adb is on your PATH")
	// ErrNoDevice: the server sees no phone.
	ErrNoDevice = errors.New("no phone found: connect it with a USB data cable, unlock it, and turn on USB debugging " +
		"(Settings > About phone > tap the OS version 7 times, then Settings > Additional settings > Developer options > USB debugging)")
	// ErrUnauthorized: the phone has not accepted this computer's key.
	ErrUnauthorized = errors.New("the phone has not authorized this computer: unlock it and accept the \"Allow USB debugging?\" prompt (tick \"Always allow\")")
	// ErrOffline: the phone is connected but not answering.
	ErrOffline = errors.New("the phone is offline: unplug and reconnect it, or run `adb kill-server` and try again")
	// ErrSeveralDevices: more than one phone is connected and none was named.
	ErrSeveralDevices = errors.New("several phones are connected")
	// ErrNotFound: the named device is not connected.
	ErrNotFound = errors.New("device not found")
)

// FailError is a FAIL answer of the adb server or of a device service.
type FailError struct {
	Request string
	Message string
}

func (e *FailError) Error() string { return fmt.Sprintf("adb %s: %s", e.Request, e.Message) }

// Client talks to one adb server.
type Client struct {
	// Addr is the server's host:port.
	Addr string
	// ADBPath is the adb program started when no server answers; empty
	// means look it up on PATH.
	ADBPath string
	// StartServer allows starting the server with `adb start-server`.
	StartServer bool

	startOnce sync.Mutex
	dialer    net.Dialer
}

// New returns a client for the server named by the environment:
// ADB_SERVER_SOCKET=tcp:host:port, else 127.0.0.1:$ANDROID_ADB_SERVER_PORT,
// else 127.0.0.1:5037.
func New() (*Client, error) {
	addr, err := addrFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	return &Client{Addr: addr, StartServer: true}, nil
}

func addrFromEnv(getenv func(string) string) (string, error) {
	if s := getenv("ADB_SERVER_SOCKET"); s != "" {
		hp, ok := strings.CutPrefix(s, "tcp:")
		if !ok {
			return "", fmt.Errorf("ADB_SERVER_SOCKET=%q: only tcp:host:port is supported", s)
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			// "tcp:5037" means localhost.
			if _, perr := strconv.Atoi(hp); perr != nil {
				return "", fmt.Errorf("ADB_SERVER_SOCKET=%q: %w", s, err)
			}
			hp = net.JoinHostPort("127.0.0.1", hp)
		}
		return hp, nil
	}
	port := DefaultPort
	if p := getenv("ANDROID_ADB_SERVER_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return "", fmt.Errorf("ANDROID_ADB_SERVER_PORT=%q is not a port number", p)
		}
		port = n
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// dial connects to the server, starting it once if it is not running and
// the adb program exists.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.Addr)
	if err == nil {
		return conn, nil
	}
	if ctx.Err() != nil || !isRefused(err) {
		return nil, fmt.Errorf("adb server %s: %w", c.Addr, err)
	}
	if !c.StartServer {
		return nil, fmt.Errorf("adb server %s is not running: %w", c.Addr, err)
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	conn, err = c.dialer.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("adb server %s: %w", c.Addr, err)
	}
	return conn, nil
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (c *Client) start(ctx context.Context) error {
	c.startOnce.Lock()
	defer c.startOnce.Unlock()
	// Another goroutine may have started it meanwhile.
	if conn, err := c.dialer.DialContext(ctx, "tcp", c.Addr); err == nil {
		conn.Close()
		return nil
	}
	bin := c.ADBPath
	if bin == "" {
		p, err := exec.LookPath("adb")
		if err != nil {
			return fmt.Errorf("%w (no server answered at %s)", ErrNoADB, c.Addr)
		}
		bin = p
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("adb server %s is not running and is not on this computer", c.Addr)
	}
	cmd := exec.CommandContext(ctx, bin, "-P", port, "start-server")
	cmd.Env = append(os.Environ(), "ANDROID_ADB_SERVER_PORT="+port)
	cmd.Env = removeEnv(cmd.Env, "ADB_SERVER_SOCKET")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s start-server: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func removeEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// conn is one host-protocol connection; ctx cancellation closes it so a
// blocked read or write returns at once.
type conn struct {
	net.Conn
	br   *bufio.Reader
	stop func() bool
}

func (c *Client) open(ctx context.Context) (*conn, error) {
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	cn := &conn{Conn: nc, br: bufio.NewReaderSize(nc, 256<<10)}
	cn.stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return cn, nil
}

func (cn *conn) Read(p []byte) (int, error) { return cn.br.Read(p) }

func (cn *conn) Close() error {
	cn.stop()
	return cn.Conn.Close()
}

// ctxErr prefers the context's error over the i/o error it caused.
func ctxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ce := ctx.Err(); ce != nil {
		return ce
	}
	return err
}

// send writes one request and reads the OKAY or FAIL status.
func (cn *conn) send(req string) error {
	if len(req) > 0xffff {
		return fmt.Errorf("adb request too long (%d bytes)", len(req))
	}
	if _, err := fmt.Fprintf(cn.Conn, "%04x%s", len(req), req); err != nil {
		return fmt.Errorf("adb %s: %w", redact(req), err)
	}
	return cn.status(req)
}

func (cn *conn) status(req string) error {
	var st [4]byte
	if _, err := io.ReadFull(cn.br, st[:]); err != nil {
		return fmt.Errorf("adb %s: %w", redact(req), err)
	}
	switch string(st[:]) {
	case "OKAY":
		return nil
	case "FAIL":
		msg, err := cn.readHex()
		if err != nil {
			return fmt.Errorf("adb %s: %w", redact(req), err)
		}
		return &FailError{Request: redact(req), Message: msg}
	}
	return fmt.Errorf("adb %s: unexpected answer %q", redact(req), st[:])
}

// redact shortens a request for error messages: shell commands can be long.
func redact(req string) string {
	if len(req) > 120 {
		return req[:117] + "..."
	}
	return req
}

// readHex reads a 4-hex-digit length and that many bytes.
func (cn *conn) readHex() (string, error) {
	var h [4]byte
	if _, err := io.ReadFull(cn.br, h[:]); err != nil {
		return "", err
	}
	n, err := strconv.ParseUint(string(h[:]), 16, 32)
	if err != nil {
		return "", fmt.Errorf("bad length %q", h[:])
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(cn.br, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// query sends a host request and returns its hex-framed answer.
func (c *Client) query(ctx context.Context, req string) (string, error) {
	cn, err := c.open(ctx)
	if err != nil {
		return "", err
	}
	defer cn.Close()
	if err := cn.send(req); err != nil {
		return "", ctxErr(ctx, err)
	}
	s, err := cn.readHex()
	if err != nil {
		return "", ctxErr(ctx, fmt.Errorf("adb %s: %w", req, err))
	}
	return s, nil
}

// Version is the server's protocol version (41 for current platform tools).
func (c *Client) Version(ctx context.Context) (int, error) {
	s, err := c.query(ctx, "host:version")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("adb host:version: bad answer %q", s)
	}
	return int(v), nil
}

// DeviceInfo is one line of `adb devices -l`.
type DeviceInfo struct {
	Serial string
	// State is "device" when usable; also "unauthorized", "offline",
	// "recovery", "sideload", "bootloader", "no permissions ...".
	State       string
	Product     string
	Model       string
	Device      string
	TransportID string
	USB         string
}

// Devices lists what the server sees.
func (c *Client) Devices(ctx context.Context) ([]DeviceInfo, error) {
	s, err := c.query(ctx, "host:devices-l")
	if err != nil {
		return nil, err
	}
	return parseDevices(s), nil
}

func parseDevices(s string) []DeviceInfo {
	var out []DeviceInfo
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		d := DeviceInfo{Serial: f[0]}
		i := 1
		// A state can be several words ("no permissions (...)"); the
		// key:value pairs follow it.
		var st []string
		for ; i < len(f) && !strings.Contains(f[i], ":"); i++ {
			st = append(st, f[i])
		}
		d.State = strings.Join(st, " ")
		for ; i < len(f); i++ {
			k, v, _ := strings.Cut(f[i], ":")
			switch k {
			case "product":
				d.Product = v
			case "model":
				d.Model = v
			case "device":
				d.Device = v
			case "transport_id":
				d.TransportID = v
			case "usb":
				d.USB = v
			}
		}
		out = append(out, d)
	}
	return out
}

// Pick chooses a device: the one named by serial, or the only one when
// serial is empty. Its errors tell a person what to do.
func (c *Client) Pick(ctx context.Context, serial string) (*Device, error) {
	devs, err := c.Devices(ctx)
	if err != nil {
		return nil, err
	}
	var d *DeviceInfo
	if serial != "" {
		for i := range devs {
			if devs[i].Serial == serial {
				d = &devs[i]
			}
		}
		if d == nil {
			var names []string
			for _, x := range devs {
				names = append(names, x.Serial)
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("phone %s: %w", serial, ErrNoDevice)
			}
			return nil, fmt.Errorf("phone %s: %w (connected: %s)", serial, ErrNotFound, strings.Join(names, ", "))
		}
	} else {
		switch len(devs) {
		case 0:
			return nil, ErrNoDevice
		case 1:
			d = &devs[0]
		default:
			var names []string
			for _, x := range devs {
				desc := x.Serial
				if x.Model != "" {
					desc += " (" + x.Model + ")"
				}
				names = append(names, desc)
			}
			return nil, fmt.Errorf("%w: %s; choose one with adb:SERIAL, for example adb:%s", ErrSeveralDevices, strings.Join(names, ", "), devs[0].Serial)
		}
	}
	switch {
	case d.State == "device":
	case d.State == "unauthorized":
		return nil, fmt.Errorf("phone %s: %w", d.Serial, ErrUnauthorized)
	case d.State == "offline":
		return nil, fmt.Errorf("phone %s: %w", d.Serial, ErrOffline)
	case strings.HasPrefix(d.State, "no permissions"):
		return nil, fmt.Errorf("phone %s: this user may not open the USB device (%s): install the udev rules for Android devices (Debian/Ubuntu: apt install android-sdk-platform-tools-common) and reconnect", d.Serial, d.State)
	default:
		return nil, fmt.Errorf("phone %s is in state %q, not booted normally: restart it into Android", d.Serial, d.State)
	}
	return c.Device(d.Serial), nil
}

// Device returns a handle on the device with this serial. Nothing is
// checked until it is used.
func (c *Client) Device(serial string) *Device {
	return &Device{c: c, Serial: serial}
}

// Device is one phone behind the server.
type Device struct {
	c      *Client
	Serial string

	mu       sync.Mutex
	features map[string]bool
}

// Features lists the features both the server and the device support.
func (d *Device) Features(ctx context.Context) (map[string]bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.features != nil {
		return d.features, nil
	}
	s, err := d.c.query(ctx, "host-serial:"+d.Serial+":features")
	if err != nil {
		return nil, d.wrap(err)
	}
	f := map[string]bool{}
	for _, x := range strings.Split(strings.TrimSpace(s), ",") {
		if x != "" {
			f[x] = true
		}
	}
	d.features = f
	return f, nil
}

// wrap turns the server's device errors into the package's sentinels.
func (d *Device) wrap(err error) error {
	var fe *FailError
	if !errors.As(err, &fe) {
		return err
	}
	m := strings.ToLower(fe.Message)
	switch {
	case strings.Contains(m, "unauthorized"):
		return fmt.Errorf("phone %s: %w (%s)", d.Serial, ErrUnauthorized, fe.Message)
	case strings.Contains(m, "offline"):
		return fmt.Errorf("phone %s: %w (%s)", d.Serial, ErrOffline, fe.Message)
	case strings.Contains(m, "not found"):
		return fmt.Errorf("phone %s: %w (%s)", d.Serial, ErrNotFound, fe.Message)
	case strings.Contains(m, "no devices"):
		return fmt.Errorf("phone %s: %w (%s)", d.Serial, ErrNoDevice, fe.Message)
	}
	return err
}

// Open connects to a device service ("shell:ls", "sync:") and returns the
// raw stream. Closing it (or ending ctx) closes the service.
func (d *Device) Open(ctx context.Context, service string) (io.ReadWriteCloser, error) {
	cn, err := d.c.open(ctx)
	if err != nil {
		return nil, err
	}
	if err := cn.send("host:transport:" + d.Serial); err != nil {
		cn.Close()
		return nil, ctxErr(ctx, d.wrap(err))
	}
	if err := cn.send(service); err != nil {
		cn.Close()
		return nil, ctxErr(ctx, d.wrap(err))
	}
	return &ctxConn{conn: cn, ctx: ctx}, nil
}

// ctxConn reports the context's error instead of the i/o error its end
// caused.
type ctxConn struct {
	*conn
	ctx context.Context
}

func (c *ctxConn) Read(p []byte) (int, error) {
	n, err := c.conn.Read(p)
	if err != nil && err != io.EOF {
		err = ctxErr(c.ctx, err)
	}
	return n, err
}

func (c *ctxConn) Write(p []byte) (int, error) {
	n, err := c.conn.Write(p)
	return n, ctxErr(c.ctx, err)
}

// GetProp reads one system property ("" when unset).
func (d *Device) GetProp(ctx context.Context, name string) (string, error) {
	out, err := d.Output(ctx, "getprop", name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(out), "\r\n"), nil
}
