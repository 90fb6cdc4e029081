package adb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Quote makes s one word for the device's shell. adb joins a command's
// arguments with spaces and hands them to sh, so every argument that is
// not plainly safe is single-quoted.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Command joins args into one quoted shell command line.
func Command(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// Shell v2 packet ids.
const (
	v2Stdin      = 0
	v2Stdout     = 1
	v2Stderr     = 2
	v2Exit       = 3
	v2CloseStdin = 4
	maxStderr    = 64 << 10
)

// Proc is a running command. Read gives its stdout; after Read returns
// io.EOF, ExitCode and Stderr tell how it ended.
type Proc struct {
	rc   io.ReadWriteCloser
	br   *bufio.Reader
	v2   bool
	left uint32 // bytes left in the current stdout packet
	exit int
	done bool
	errb bytes.Buffer
}

// Start runs a command line (already quoted, see Command) on the device.
// When the server and device share shell_v2 the command's stdout and stderr
// come apart and its exit code is known; otherwise stdout and stderr are
// merged and ExitCode is -1. Output is byte-exact either way (no pty).
func (d *Device) Start(ctx context.Context, cmdline string) (*Proc, error) {
	f, err := d.Features(ctx)
	if err != nil {
		return nil, err
	}
	service := "exec:" + cmdline
	if f["shell_v2"] {
		service = "shell,v2,raw:" + cmdline
	}
	rc, err := d.Open(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("run %q on %s: %w", redact(cmdline), d.Serial, err)
	}
	p := &Proc{rc: rc, br: bufio.NewReaderSize(rc, 64<<10), v2: f["shell_v2"], exit: -1}
	if p.v2 {
		// Nothing is fed to stdin: say so, or a command reading it waits.
		var pkt [5]byte
		pkt[0] = v2CloseStdin
		if _, err := rc.Write(pkt[:]); err != nil {
			rc.Close()
			return nil, fmt.Errorf("run %q on %s: %w", redact(cmdline), d.Serial, err)
		}
	}
	return p, nil
}

// StartV1 runs a command through the plain `shell:` service, as old
// devices need; stdout and stderr are merged and no exit code comes back.
func (d *Device) StartV1(ctx context.Context, cmdline string) (*Proc, error) {
	rc, err := d.Open(ctx, "shell:"+cmdline)
	if err != nil {
		return nil, fmt.Errorf("run %q on %s: %w", redact(cmdline), d.Serial, err)
	}
	return &Proc{rc: rc, br: bufio.NewReaderSize(rc, 64<<10), exit: -1}, nil
}

func (p *Proc) Read(b []byte) (int, error) {
	if p.done {
		return 0, io.EOF
	}
	if !p.v2 {
		n, err := p.br.Read(b)
		if err == io.EOF {
			p.done = true
		}
		return n, err
	}
	for p.left == 0 {
		var hdr [5]byte
		if _, err := io.ReadFull(p.br, hdr[:]); err != nil {
			if err == io.EOF {
				// adbd always sends the exit code before closing.
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("shell: %w", err)
		}
		n := binary.LittleEndian.Uint32(hdr[1:])
		switch hdr[0] {
		case v2Stdout:
			p.left = n
		case v2Stderr:
			if _, err := io.CopyN(&capped{&p.errb, maxStderr}, p.br, int64(n)); err != nil {
				return 0, fmt.Errorf("shell: %w", err)
			}
		case v2Exit:
			var code [1]byte
			if n >= 1 {
				if _, err := io.ReadFull(p.br, code[:]); err != nil {
					return 0, fmt.Errorf("shell: %w", err)
				}
				if _, err := io.CopyN(io.Discard, p.br, int64(n-1)); err != nil {
					return 0, fmt.Errorf("shell: %w", err)
				}
			}
			p.exit = int(code[0])
			p.done = true
			return 0, io.EOF
		default:
			if _, err := io.CopyN(io.Discard, p.br, int64(n)); err != nil {
				return 0, fmt.Errorf("shell: %w", err)
			}
		}
	}
	if uint32(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.br.Read(b)
	p.left -= uint32(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// ExitCode is the command's exit status, or -1 when the protocol does not
// report it (shell v1) or the command has not finished.
func (p *Proc) ExitCode() int { return p.exit }

// Stderr is the start of what the command wrote to stderr (shell v2 only).
func (p *Proc) Stderr() string { return p.errb.String() }

// Close ends the command's stream; an unfinished command is hung up on.
func (p *Proc) Close() error { return p.rc.Close() }

type capped struct {
	b   *bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// ExitError is a command that ended with a non-zero status.
type ExitError struct {
	Cmd    string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "(no message)"
	}
	return fmt.Sprintf("%q exited with status %d: %s", redact(e.Cmd), e.Code, msg)
}

// Output runs a command made of args (each quoted) and returns its stdout,
// up to 64 MiB. A non-zero exit is an *ExitError.
func (d *Device) Output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := Command(args...)
	p, err := d.Start(ctx, cmd)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	var out bytes.Buffer
	const limit = 64 << 20
	n, err := io.Copy(&out, io.LimitReader(p, limit+1))
	if err != nil {
		return nil, fmt.Errorf("run %q on %s: %w", redact(cmd), d.Serial, ctxErr(ctx, err))
	}
	if n > limit {
		return nil, fmt.Errorf("run %q on %s: output over %d bytes", redact(cmd), d.Serial, limit)
	}
	if p.ExitCode() > 0 {
		return out.Bytes(), &ExitError{Cmd: cmd, Code: p.ExitCode(), Stderr: p.Stderr()}
	}
	return out.Bytes(), nil
}
