package adbtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RealServer is a private instance of the real adb server.
type RealServer struct {
	Bin  string
	Port string
	Addr string
	env  []string
}

// StartRealServer runs `adb start-server` on a free port with HOME and
// TMPDIR in temp dirs, and kills it when the test ends. Without the adb
// program the test is skipped, unless CI=true, where it fails: CI
// installs adb, so its absence there is a broken setup, not a reason to
// pass.
func StartRealServer(t testing.TB) *RealServer {
	t.Helper()
	bin, err := exec.LookPath("adb")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the adb program is missing (%v): install the Debian package adb", err)
		}
		t.Skipf("adb program not installed (%v): skipping the test through the real adb server (apt install adb to run it)", err)
	}
	port := freePort(t)
	home := t.TempDir()
	tmp := t.TempDir()
	r := &RealServer{Bin: bin, Port: port, Addr: net.JoinHostPort("127.0.0.1", port)}
	r.env = append(os.Environ(), "HOME="+home, "TMPDIR="+tmp, "ANDROID_ADB_SERVER_PORT="+port, "ANDROID_SDK_HOME="+home, "ANDROID_USER_HOME="+home+"/.android")
	r.env = removeEnv(r.env, "ADB_SERVER_SOCKET")
	if out, err := r.Run(t, "start-server"); err != nil {
		t.Fatalf("adb start-server: %v: %s", err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, r.Bin, "-P", r.Port, "kill-server")
		cmd.Env = r.env
		cmd.Run()
	})
	return r
}

func removeEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// freePort finds a loopback port outside 5550-5590.
func freePort(t testing.TB) string {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p < 5550 || p > 5590 {
			return strconv.Itoa(p)
		}
	}
	t.Fatal("no free port")
	return ""
}

// Run runs the adb program against this server.
func (r *RealServer) Run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bin, append([]string{"-P", r.Port}, args...)...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Env is the environment the adb program runs with (for a client that
// reads ANDROID_ADB_SERVER_PORT).
func (r *RealServer) Env() []string { return r.env }

// Connect attaches a fake device listening at addr and waits until the
// server reports it ready. `adb connect` exits 0 even when it failed, so
// its output is checked.
func (r *RealServer) Connect(t testing.TB, addr string) string {
	t.Helper()
	out, err := r.Run(t, "connect", addr)
	if err != nil || !strings.Contains(out, "connected to") {
		t.Fatalf("adb connect %s: %v: %s", addr, err, out)
	}
	if out, err := r.Run(t, "-s", addr, "wait-for-device"); err != nil {
		t.Fatalf("adb wait-for-device %s: %v: %s", addr, err, out)
	}
	return addr
}
