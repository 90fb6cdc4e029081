package bench

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
)

// fakeTB lets the benchmark command start the test-support fakes
// (internal/adbtest, internal/googletest, internal/dropboxtest), whose
// constructors take a testing.TB for their temp dirs, cleanups and setup
// failures. Those constructors only call the methods defined here, and
// only from the goroutine that called them; the embedded nil TB makes any
// other call panic loudly instead of passing silently.
type fakeTB struct {
	testing.TB
	dir string

	mu       sync.Mutex
	cleanups []func()
}

// tbStop is what Fatal and Skip panic with; withTB recovers it.
type tbStop struct {
	skip bool
	msg  string
}

func (t *fakeTB) Helper()      {}
func (t *fakeTB) Name() string { return "miexit-bench" }
func (t *fakeTB) Fatal(a ...any) {
	panic(tbStop{msg: fmt.Sprint(a...)})
}
func (t *fakeTB) Fatalf(f string, a ...any) { panic(tbStop{msg: fmt.Sprintf(f, a...)}) }
func (t *fakeTB) Skip(a ...any)             { panic(tbStop{skip: true, msg: fmt.Sprint(a...)}) }
func (t *fakeTB) Skipf(f string, a ...any)  { panic(tbStop{skip: true, msg: fmt.Sprintf(f, a...)}) }
func (t *fakeTB) Logf(string, ...any)       {}

func (t *fakeTB) TempDir() string {
	d, err := os.MkdirTemp(t.dir, "tb-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (t *fakeTB) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

// withTB runs f with a fakeTB whose temp dirs live under dir, runs the
// cleanups afterwards (last registered first, as testing does), and turns
// a Fatal into an error and a Skip into skipped's message.
func withTB(dir string, f func(t *fakeTB) error) (skipped string, err error) {
	t := &fakeTB{dir: dir}
	defer func() {
		t.mu.Lock()
		cs := slices.Clone(t.cleanups)
		t.mu.Unlock()
		for _, c := range slices.Backward(cs) {
			c()
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(tbStop)
			if !ok {
				panic(r)
			}
			if s.skip {
				skipped = s.msg
				return
			}
			err = fmt.Errorf("setting up the fakes: %s", s.msg)
		}
	}()
	return "", f(t)
}
