package adb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/adbtest"
)

// TestThroughRealADBServer runs the client through Debian's adb server
// connected to the fake device over TCP, as a phone would be over USB.
func TestThroughRealADBServer(t *testing.T) {
	real := adbtest.StartRealServer(t)
	d := newFileDevice()
	d.Commands = map[string]adbtest.Command{"fail": func(_ []string, _, stderr io.Writer) int {
		io.WriteString(stderr, "nope")
		return 4
	}}
	serial := real.Connect(t, d.Listen(t))
	c := &adb.Client{Addr: real.Addr}
	ctx := context.Background()

	if v, err := c.Version(ctx); err != nil || v < 39 {
		t.Fatalf("Version = %d, %v", v, err)
	}
	devs, err := c.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Serial != serial || devs[0].State != "device" || devs[0].Model != "Redmi_Note_12" {
		t.Fatalf("Devices = %+v", devs)
	}
	dev, err := c.Pick(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := dev.Features(ctx)
	if err != nil || !f["shell_v2"] || !f["stat_v2"] || !f["ls_v2"] {
		t.Fatalf("Features = %v, %v", f, err)
	}
	if m, err := dev.GetProp(ctx, "ro.miui.ui.version.name"); err != nil || m != "V140" {
		t.Fatalf("getprop = %q, %v", m, err)
	}
	_, err = dev.Output(ctx, "fail")
	var ee *adb.ExitError
	if !errors.As(err, &ee) || ee.Code != 4 || ee.Stderr != "nope" {
		t.Fatalf("fail = %v, want exit 4 with stderr", err)
	}

	s, err := dev.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{"/sdcard/DCIM/Camera/VID_1.mp4", "/sdcard/DCIM/Camera/IMG_1.jpg"} {
		r, err := s.Recv(p)
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.New()
		if _, err := io.Copy(got, r); err != nil {
			t.Fatalf("pull %s: %v", p, err)
		}
		want := sha256.New()
		io.Copy(want, d.Files.Lookup(p).Open())
		if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Errorf("pull %s through the real server: bytes differ", p)
		}
	}
	n := 0
	for _, err := range s.List("/sdcard/DCIM/Camera") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("List = %d entries, want 2", n)
	}
}

// TestStartsTheServerWhenNotRunning checks `adb start-server` is run when
// nothing answers and the program exists.
func TestStartsTheServerWhenNotRunning(t *testing.T) {
	real := adbtest.StartRealServer(t) // only for the skip/CI rule and a clean env
	bin := real.Bin
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	c := &adb.Client{Addr: addr, ADBPath: bin, StartServer: true}
	_, port, _ := net.SplitHostPort(addr)
	t.Cleanup(func() { exec.Command(bin, "-P", port, "kill-server").Run() })
	devs, err := c.Devices(context.Background())
	if err != nil {
		t.Fatalf("Devices with no server running: %v", err)
	}
	for _, d := range devs {
		if !strings.HasPrefix(d.Serial, "emulator-") {
			t.Errorf("unexpected device %+v", d)
		}
	}
}
