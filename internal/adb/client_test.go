package adb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/adbtest"
)

func fakeClient(t *testing.T, devs ...*adbtest.Device) (*adb.Client, *adbtest.Server) {
	t.Helper()
	srv := adbtest.NewServer(t, devs...)
	return &adb.Client{Addr: srv.Addr}, srv
}

func TestEnvironmentChoosesServer(t *testing.T) {
	tests := []struct {
		name, port, socket, want, wantErr string
	}{
		{name: "default", want: "127.0.0.1:5037"},
		{name: "ANDROID_ADB_SERVER_PORT", port: "5099", want: "127.0.0.1:5099"},
		{name: "ADB_SERVER_SOCKET wins", port: "5099", socket: "tcp:10.0.0.2:6000", want: "10.0.0.2:6000"},
		{name: "ADB_SERVER_SOCKET port only", socket: "tcp:6001", want: "127.0.0.1:6001"},
		{name: "bad port", port: "fifty", wantErr: "not a port number"},
		{name: "unix socket unsupported", socket: "localfilesystem:/tmp/adb", wantErr: "only tcp:host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ANDROID_ADB_SERVER_PORT", tc.port)
			t.Setenv("ADB_SERVER_SOCKET", tc.socket)
			c, err := adb.New()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tc.want {
				t.Errorf("Addr = %q, want %q", c.Addr, tc.want)
			}
		})
	}
}

func TestVersionAndDevices(t *testing.T) {
	d := adbtest.NewDevice("abc123")
	c, _ := fakeClient(t, d)
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil || v != 41 {
		t.Fatalf("Version = %d, %v; want 41", v, err)
	}
	devs, err := c.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Serial != "abc123" || devs[0].State != "device" || devs[0].Model != "Redmi_Note_12" || devs[0].Product != "tapas_global" {
		t.Fatalf("Devices = %+v", devs)
	}
}

func TestPickExplainsWhatToDo(t *testing.T) {
	unauth := adbtest.NewDevice("u1")
	unauth.State = "unauthorized"
	tests := []struct {
		name    string
		devs    []*adbtest.Device
		serial  string
		want    error
		wantMsg []string
	}{
		{name: "no device", want: adb.ErrNoDevice, wantMsg: []string{"USB debugging"}},
		{name: "unauthorized", devs: []*adbtest.Device{unauth}, want: adb.ErrUnauthorized, wantMsg: []string{"accept", "u1"}},
		{name: "several devices", devs: []*adbtest.Device{adbtest.NewDevice("s1"), adbtest.NewDevice("s2")}, want: adb.ErrSeveralDevices, wantMsg: []string{"s1", "s2", "adb:SERIAL"}},
		{name: "named device missing", devs: []*adbtest.Device{adbtest.NewDevice("s1")}, serial: "zz", want: adb.ErrNotFound, wantMsg: []string{"zz", "s1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeClient(t, tc.devs...)
			_, err := c.Pick(context.Background(), tc.serial)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Pick error = %v, want %v", err, tc.want)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	t.Run("several devices, one named", func(t *testing.T) {
		c, _ := fakeClient(t, adbtest.NewDevice("s1"), adbtest.NewDevice("s2"))
		d, err := c.Pick(context.Background(), "s2")
		if err != nil || d.Serial != "s2" {
			t.Fatalf("Pick(s2) = %v, %v", d, err)
		}
	})
}

func TestNoServerAndNoADBSaysHowToInstall(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("PATH", t.TempDir())
	c := &adb.Client{Addr: addr, StartServer: true}
	_, err = c.Devices(context.Background())
	if !errors.Is(err, adb.ErrNoADB) || !strings.Contains(err.Error(), "platform tools") {
		t.Fatalf("error = %v, want ErrNoADB with install advice", err)
	}
}

func TestShellV2ReportsExitCodeAndStderr(t *testing.T) {
	d := adbtest.NewDevice("p1")
	d.Commands = map[string]adbtest.Command{
		"fail": func(args []string, stdout, stderr io.Writer) int {
			fmt.Fprint(stdout, "partial")
			fmt.Fprint(stderr, "broken pipe dream")
			return 3
		},
	}
	c, _ := fakeClient(t, d)
	dev := c.Device("p1")
	out, err := dev.Output(context.Background(), "echo", "hello world")
	if err != nil || string(out) != "hello world\n" {
		t.Fatalf("echo = %q, %v", out, err)
	}
	out, err = dev.Output(context.Background(), "fail")
	var ee *adb.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(ee.Stderr, "broken pipe dream") {
		t.Fatalf("fail = %v, want ExitError 3 with stderr", err)
	}
	if string(out) != "partial" {
		t.Errorf("stdout = %q, stderr must not be mixed in", out)
	}
	if got := d.Services(); !strings.HasPrefix(got[0], "shell,v2,raw:") {
		t.Errorf("service = %q, want shell v2", got[0])
	}
}

func TestShellV1WhenNotShared(t *testing.T) {
	for _, tc := range []struct {
		name           string
		device, server []string
	}{
		{"device lacks shell_v2", []string{"cmd"}, adbtest.ServerFeatures},
		{"server lacks shell_v2", adbtest.DefaultFeatures, []string{"cmd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := adbtest.NewDevice("old")
			d.Features = tc.device
			c, srv := fakeClient(t, d)
			srv.Features = tc.server
			p, err := c.Device("old").Start(context.Background(), adb.Command("false"))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, p)
			p.Close()
			if p.ExitCode() != -1 {
				t.Errorf("ExitCode = %d, want -1 (unknown) over shell v1", p.ExitCode())
			}
			if got := d.Services(); !strings.HasPrefix(got[0], "exec:") {
				t.Errorf("service = %q, want exec:", got[0])
			}
		})
	}
}

func TestQuoteSurvivesTheDeviceShell(t *testing.T) {
	d := adbtest.NewDevice("q")
	var got []string
	d.Commands = map[string]adbtest.Command{"args": func(a []string, _, _ io.Writer) int { got = a; return 0 }}
	c, _ := fakeClient(t, d)
	want := []string{"body=a, b", "it's", `"dq"`, "$HOME", "a;b", "&&", "", "中文 😀", `back\slash`, "_id=5"}
	if _, err := c.Device("q").Output(context.Background(), append([]string{"args"}, want...)...); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Fatalf("device saw %q, want %q", got, want)
	}
}

func newFileDevice() *adbtest.Device {
	d := adbtest.NewDevice("f1")
	mt := time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC)
	d.Files.Add("/sdcard/DCIM/Camera/IMG_1.jpg", []byte("\xff\xd8\xffjpeg bytes"), mt)
	d.Files.AddGenerated("/sdcard/DCIM/Camera/VID_1.mp4", 3<<20+17, 7, mt.Add(time.Hour))
	d.Files.Mkdir("/sdcard/DCIM/Empty")
	return d
}

func TestSyncStatListRecv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		features []string
	}{
		{"v1", []string{"shell_v2"}},
		{"v2", adbtest.DefaultFeatures},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newFileDevice()
			d.Features = tc.features
			c, _ := fakeClient(t, d)
			ctx := context.Background()
			s, err := c.Device("f1").Sync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fi, err := s.Stat("/sdcard/DCIM/Camera/VID_1.mp4")
			if err != nil || fi.Size != 3<<20+17 || !fi.IsRegular() || fi.ModTime.Unix() != time.Date(2024, 3, 2, 11, 0, 0, 0, time.UTC).Unix() {
				t.Fatalf("Stat = %+v, %v", fi, err)
			}
			if _, err := s.Stat("/sdcard/nope"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat missing = %v, want ErrNotExist", err)
			}
			var names []string
			for e, err := range s.List("/sdcard/DCIM") {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, fmt.Sprintf("%s:%v", e.Name, e.IsDir()))
			}
			if strings.Join(names, ",") != "Camera:true,Empty:true" {
				t.Fatalf("List = %v", names)
			}
			for _, p := range []string{"/sdcard/DCIM/Camera/IMG_1.jpg", "/sdcard/DCIM/Camera/VID_1.mp4"} {
				r, err := s.Recv(p)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				if _, err := io.Copy(h, r); err != nil {
					t.Fatalf("pull %s: %v", p, err)
				}
				wantH := sha256.New()
				io.Copy(wantH, d.Files.Lookup(p).Open())
				if !bytes.Equal(h.Sum(nil), wantH.Sum(nil)) {
					t.Errorf("pull %s: bytes differ", p)
				}
			}
			r, _ := s.Recv("/sdcard/missing.jpg")
			if _, err := io.ReadAll(r); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("pull missing = %v, want ErrNotExist", err)
			}
			// The session survives a FAIL.
			if _, err := s.Stat("/sdcard/DCIM/Camera/IMG_1.jpg"); err != nil {
				t.Errorf("Stat after FAIL: %v", err)
			}
		})
	}
}

func TestPullStopsWhenContextEnds(t *testing.T) {
	d := adbtest.NewDevice("big")
	d.Files.AddGenerated("/sdcard/Movies/big.mp4", 512<<20, 1, time.Now())
	c, _ := fakeClient(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.Device("big").Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Recv("/sdcard/Movies/big.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, r, 1<<20); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel = %v, want context.Canceled", err)
	}
}
