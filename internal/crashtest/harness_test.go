package crashtest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/sample"
)

// bin is the miexit binary built once for the whole package; src is the
// generated sample it migrates.
var bin, src string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "miexit-crashtest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "miexit")
		if runtime.GOOS == "windows" {
			bin += ".exe"
		}
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(gobin, "build", "-o", bin, "github.com/miexit/miexit/cmd/miexit").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go build miexit: %v\n%s", err, out)
			return 1
		}
		// Readable by everyone: TestPermissionDeniedThenResume runs the
		// binary as another user.
		if err := os.Chmod(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		src = filepath.Join(dir, "sample")
		if err := sample.Generate(src); err != nil {
			fmt.Fprintln(os.Stderr, "generate sample:", err)
			return 1
		}
		// The tests mostly wait on child processes and on the retry
		// waits the fakes ask for: run more of them at once than there
		// are cores, unless -parallel was given.
		set := false
		flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
		if !set {
			flag.Set("test.parallel", strconv.Itoa(max(runtime.GOMAXPROCS(0), 4)))
		}
		return m.Run()
	}())
}

// env is one isolated miexit installation: its own state and config dirs
// plus the destination variables a test sets.
type env struct {
	state, config string
	vars          []string
}

func newEnv(t *testing.T, vars ...string) *env {
	t.Helper()
	d := t.TempDir()
	return &env{state: filepath.Join(d, "state"), config: filepath.Join(d, "config"), vars: vars}
}

func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MIEXIT_") {
			out = append(out, kv)
		}
	}
	// Short backoffs: the injected faults would otherwise cost seconds of
	// sleep each, and the waits' length is not what is tested here.
	out = append(out, "MIEXIT_STATE_DIR="+e.state, "MIEXIT_CONFIG_DIR="+e.config, "HOME="+filepath.Dir(e.state), "MIEXIT_RETRY_BASE=5ms")
	return append(out, e.vars...)
}

func (e *env) command(args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Env = e.environ()
	return c
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs miexit to completion; stdin may be nil.
func (e *env) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	c := e.command(args...)
	var o, er bytes.Buffer
	c.Stdout, c.Stderr = &o, &er
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	err := c.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run miexit %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code, o.String(), er.String()}
}

// summary decodes the last JSON line of a --json run.
func summary(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, stdout)
	}
	return m
}
