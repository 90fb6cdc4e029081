package adbtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultFeatures are what a current phone advertises.
var DefaultFeatures = []string{"shell_v2", "cmd", "stat_v2", "ls_v2", "fixed_push_mkdir", "apex", "abb", "fixed_push_symlink_timestamp", "abb_exec", "remount_shell", "track_app", "sendrecv_v2"}

// Command is a fake shell command: it gets its arguments (after the
// name), writes to stdout and stderr, and returns the exit status.
type Command func(args []string, stdout, stderr io.Writer) int

// Device is a fake phone. Set its fields before serving it.
type Device struct {
	Serial   string
	Model    string // ro.product.model
	Product  string
	Name     string // ro.product.device
	Features []string
	// State is what the fake host server reports ("device" when empty,
	// "unauthorized", "offline").
	State string
	Props map[string]string
	Files *Tree
	Prov  *Providers
	// Commands adds or replaces shell commands by name.
	Commands map[string]Command
	// Accounts are what `dumpsys account` lists (none by default); change
	// them while serving with SetAccounts.
	Accounts []Account

	// RecvDelay, when set, is how long RECV of a file waits before the
	// first byte, as a busy phone's storage or a slow link does: with
	// several sync sessions, files then finish out of order.
	RecvDelay func(path string) time.Duration

	// Counters for tests.
	Opened   atomic.Int64 // services opened
	Aborted  atomic.Int64 // transfers the client hung up on
	Received atomic.Int64 // files sent with RECV

	mu  sync.Mutex
	log []string
}

// NewDevice returns a MIUI phone with empty storage and providers.
func NewDevice(serial string) *Device {
	return &Device{
		Serial:   serial,
		Model:    "Redmi_Note_12",
		Product:  "tapas_global",
		Name:     "tapas",
		Features: DefaultFeatures,
		Props: map[string]string{
			"ro.product.model":             "Redmi Note 12",
			"ro.product.manufacturer":      "Xiaomi",
			"ro.miui.ui.version.name":      "V140",
			"ro.mi.os.version.name":        "",
			"ro.build.version.release":     "13",
			"ro.build.version.incremental": "V14.0.6.0.TMTMIXM",
		},
		Files: NewTree(),
		Prov:  NewProviders(),
	}
}

// Services lists the services opened so far, in order.
func (d *Device) Services() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.log...)
}

func (d *Device) has(f string) bool {
	for _, x := range d.Features {
		if x == f {
			return true
		}
	}
	return false
}

// banner is the device's CNXN payload.
func (d *Device) banner() string {
	return fmt.Sprintf("device::ro.product.name=%s;ro.product.model=%s;ro.product.device=%s;features=%s",
		d.Product, d.Model, d.Name, strings.Join(d.Features, ","))
}

// stream is one open service: bytes from the host, bytes to the host.
type stream interface {
	io.Reader
	io.Writer
}

var errClosed = errors.New("stream closed by the host")

// serve runs one device service on s until it ends.
func (d *Device) serve(service string, s stream) {
	d.Opened.Add(1)
	d.mu.Lock()
	d.log = append(d.log, service)
	d.mu.Unlock()
	switch {
	case service == "sync:":
		d.serveSync(s)
	case strings.HasPrefix(service, "shell,v2,") || strings.HasPrefix(service, "shell,v2:"):
		_, cmd, _ := strings.Cut(service, ":")
		if !d.has("shell_v2") {
			// An old adbd does not know the service at all.
			return
		}
		bw := bufio.NewWriterSize(s, 256<<10)
		out := &v2Writer{w: bw, id: 1}
		errw := &v2Writer{w: bw, id: 2}
		code := d.run(cmd, out, errw)
		out.Flush()
		errw.Flush()
		bw.Write([]byte{3, 1, 0, 0, 0, byte(code)})
		bw.Flush()
	case strings.HasPrefix(service, "shell:"), strings.HasPrefix(service, "exec:"):
		_, cmd, _ := strings.Cut(service, ":")
		bw := bufio.NewWriterSize(s, 256<<10)
		d.run(cmd, bw, bw)
		bw.Flush()
	}
}

// v2Writer frames what a command writes as shell-v2 packets of id.
type v2Writer struct {
	w   *bufio.Writer
	id  byte
	buf []byte
}

func (v *v2Writer) Write(p []byte) (int, error) {
	v.buf = append(v.buf, p...)
	if len(v.buf) >= 64<<10 {
		if err := v.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (v *v2Writer) Flush() error {
	if len(v.buf) == 0 {
		return nil
	}
	var h [5]byte
	h[0] = v.id
	binary.LittleEndian.PutUint32(h[1:], uint32(len(v.buf)))
	v.w.Write(h[:])
	_, err := v.w.Write(v.buf)
	v.buf = v.buf[:0]
	return err
}

// run executes a shell command line: commands joined by ";" or "&&".
func (d *Device) run(cmdline string, stdout, stderr io.Writer) int {
	words, err := splitWords(cmdline)
	if err != nil {
		fmt.Fprintf(stderr, "/system/bin/sh: %v\n", err)
		return 2
	}
	code := 0
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			code = d.exec(cur, stdout, stderr)
		}
		cur = nil
	}
	for _, w := range words {
		if w == opSemi || w == opAnd {
			flush()
			continue
		}
		cur = append(cur, w)
	}
	flush()
	if f, ok := stdout.(interface{ Flush() error }); ok {
		f.Flush()
	}
	return code
}

// Run executes one command as the device's shell would, for tests that
// need its output without a connection.
func (d *Device) Run(args []string, stdout, stderr io.Writer) int {
	return d.exec(args, stdout, stderr)
}

func (d *Device) exec(args []string, stdout, stderr io.Writer) int {
	if c := d.Commands[args[0]]; c != nil {
		return c(args[1:], stdout, stderr)
	}
	switch args[0] {
	case "getprop":
		if len(args) == 1 {
			var keys []string
			for k := range d.Props {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(stdout, "[%s]: [%s]\n", k, d.Props[k])
			}
			return 0
		}
		fmt.Fprintln(stdout, d.Props[args[1]])
		return 0
	case "echo":
		fmt.Fprintln(stdout, strings.Join(args[1:], " "))
		return 0
	case "true":
		return 0
	case "false":
		return 1
	case "cat":
		code := 0
		for _, p := range args[1:] {
			n := d.Files.Lookup(p)
			if n == nil || n.Mode.IsDir() {
				fmt.Fprintf(stderr, "cat: %s: No such file or directory\n", p)
				code = 1
				continue
			}
			io.Copy(stdout, n.Open())
		}
		return code
	case "content":
		return d.Prov.runContent(args[1:], stdout, stderr)
	case "dumpsys":
		return d.dumpsys(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "/system/bin/sh: %s: inaccessible or not found\n", args[0])
	return 127
}

// Operators are marked with a NUL, which no word can hold.
const (
	opSemi = "\x00;"
	opAnd  = "\x00&&"
)

// splitWords splits a command line as sh does for plain words, single and
// double quotes and backslashes; ";" and "&&" become words of their own.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated quoted string")
			}
			in = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == ';':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
			out = append(out, opSemi)
		case c == '&' && i+1 < len(s) && s[i+1] == '&':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
			out = append(out, opAnd)
			i++
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}
