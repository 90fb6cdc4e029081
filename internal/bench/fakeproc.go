package bench

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/googletest"
)

// fakeChildPrefix, in childEnv, makes MaybeChild serve one fake instead
// of running a migrate: "fake:drive", "fake:dropbox" or "fake:raw". Its
// Drive and Dropbox keep sizes and checksums, not bytes (KeepNoBytes).
const fakeChildPrefix = "fake:"

// fakeHello is the first line a fake child prints: where it listens.
type fakeHello struct {
	URL, Token string
}

// fakeBye is its last line, after the parent's "done": its request
// counts, the bytes the raw handler read, and the CPU time the fake
// spent (getrusage of its own process).
type fakeBye struct {
	Counts  map[string]int
	Bytes   int64
	CPUUser time.Duration
	CPUSys  time.Duration
}

// EnvFakeProfile names a folder: each fake child writes a CPU profile of
// itself there (KIND-PID.prof), to see what the fakes cost.
const EnvFakeProfile = "MIEXIT_BENCH_FAKE_CPUPROFILE"

// serveFake runs in the child: it starts kind's fake on loopback, says
// where, and serves until its stdin says "done" (or closes).
func serveFake(kind string, in io.Reader, out io.Writer) error {
	dir, err := os.MkdirTemp("", "miexit-bench-fake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if pd := os.Getenv(EnvFakeProfile); pd != "" {
		f, err := os.Create(filepath.Join(pd, fmt.Sprintf("%s-%d.prof", kind, os.Getpid())))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	_, err = withTB(dir, func(t *fakeTB) error {
		var hello fakeHello
		var counts func() map[string]int
		var got atomic.Int64
		switch kind {
		case "drive":
			gs := googletest.New()
			// A service keeps what it receives on its own machines:
			// here the fake holding a gigabyte in its memory was
			// charged to the cores the importer runs on.
			gs.KeepNoBytes = true
			t.Cleanup(gs.Close)
			hello, counts = fakeHello{URL: gs.URL, Token: gs.Token}, gs.Counts
		case "dropbox":
			const token = "bench-token"
			ds := dropboxtest.New(t, token)
			ds.KeepNoBytes = true
			hello, counts = fakeHello{URL: ds.URL, Token: token}, ds.Counts
		case "raw":
			srv := httptest.NewServer(rawHandler(&got))
			t.Cleanup(srv.Close)
			hello, counts = fakeHello{URL: srv.URL}, func() map[string]int { return nil }
		default:
			return fmt.Errorf("no fake %q", kind)
		}
		if err := json.NewEncoder(out).Encode(hello); err != nil {
			return err
		}
		bufio.NewReader(in).ReadString('\n')
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(fakeBye{Counts: counts(), Bytes: got.Load(),
			CPUUser: time.Duration(ru.Utime.Nano()), CPUSys: time.Duration(ru.Stime.Nano())})
	})
	return err
}

// rawHandler reads and md5-hashes each body: what any HTTP upload of the
// bytes costs the receiving side, with no API around it.
func rawHandler(got *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := md5.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.Add(n)
		fmt.Fprintf(w, `{"md5":"%x"}`, h.Sum(nil))
	})
}

// fakeProc is a fake served by a child process of this binary, so that
// its work is not charged to the importer's process (they still share
// the machine's cores).
type fakeProc struct {
	fakeHello
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startFake(ctx context.Context, kind string) (*fakeProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+fakeChildPrefix+kind)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &fakeProc{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	line, err := p.out.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &p.fakeHello)
	}
	if err != nil {
		in.Close()
		cmd.Wait()
		return nil, fmt.Errorf("fake %s in a child process: %w", kind, err)
	}
	return p, nil
}

// finish stops the child and returns what it counted.
func (p *fakeProc) finish() (fakeBye, error) {
	var bye fakeBye
	_, err := io.WriteString(p.in, "done\n")
	if err == nil {
		var line []byte
		if line, err = p.out.ReadBytes('\n'); err == nil {
			err = json.Unmarshal(line, &bye)
		}
	}
	p.in.Close()
	if werr := p.cmd.Wait(); err == nil {
		err = werr
	}
	return bye, err
}

// cpuSelf is this process's CPU time so far.
func cpuSelf() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
