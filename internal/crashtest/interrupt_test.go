package crashtest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptAndResume sends SIGINT or SIGTERM (Ctrl-C, a shutdown) to
// `miexit migrate` after a seeded random delay: an interrupted run exits 1
// saying to run the same command again, and doing so completes to exactly
// what an uninterrupted run leaves.
func TestInterruptAndResume(t *testing.T) {
	t.Parallel()
	n := iterations(t) / 2
	for di, d := range destinations {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			want := baseline(t, d)
			stopped := 0
			for i := range n {
				seed := uint64(i)
				r := rand.New(rand.NewPCG(seed, 100+uint64(di)))
				delay := time.Duration(r.IntN(100)) * time.Millisecond
				sig := []os.Signal{syscall.SIGINT, syscall.SIGTERM}[r.IntN(2)]
				t.Run(fmt.Sprintf("seed=%d/%v", seed, sig), func(t *testing.T) {
					if interruptAndResume(t, d, sig, delay, want) {
						stopped++
					}
				})
			}
			t.Logf("%s: %d iterations, %d interrupted mid-run", d.name, n, stopped)
		})
	}
}

// interruptAndResume reports whether the signal stopped the run.
func interruptAndResume(t *testing.T, d destination, sig os.Signal, delay time.Duration, want []string) bool {
	to, vars, list := d.fresh(t)
	e := newEnv(t, vars...)
	args := []string{"migrate", "--from", "archive:" + src, "--to", to, "--json"}
	c := e.command(args...)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// The first progress event means miexit is running with its signal
	// handler in place; the delay counts from there.
	lines := bufio.NewScanner(out)
	lines.Buffer(nil, 1<<20)
	lines.Scan()
	drained := make(chan struct{})
	go func() {
		for lines.Scan() {
		}
		close(drained)
	}()
	time.Sleep(delay)
	c.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { <-drained; done <- c.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		// Not a speed assertion: a run that ignores the signal hangs.
		c.Process.Kill()
		<-done
		t.Fatalf("migrate did not stop within a minute of %v", sig)
	}
	stopped := false
	switch ws := c.ProcessState.Sys().(syscall.WaitStatus); {
	case err == nil:
		// Finished before the signal arrived.
	case ws.Signaled():
		t.Errorf("%v after the first event (+%v) killed miexit instead of stopping it cleanly", sig, delay)
	default:
		stopped = true
		if code := c.ProcessState.ExitCode(); code != 1 {
			t.Errorf("interrupted migrate exit %d, want 1\n%s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "Run the same command again") {
			t.Errorf("interrupted migrate does not say how to resume:\n%s", stderr.String())
		}
	}

	if r := e.run(t, "", args...); r.code != 0 {
		t.Fatalf("re-run after %v at %v: exit %d\n%s", sig, delay, r.code, r.stderr)
	}
	r := e.run(t, "", "verify", "--from", "archive:"+src, "--to", to, "--json")
	if r.code != 0 || summary(t, r.stdout)["ok"] != true {
		t.Fatalf("verify after %v at %v: exit %d\n%s%s", sig, delay, r.code, r.stdout, r.stderr)
	}
	if got := list(t, true); !slices.Equal(got, want) {
		t.Errorf("after %v at %v the destination differs from an uninterrupted run:\n%s", sig, delay, diff(want, got))
	}
	return stopped
}
