package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/backup/timer"
)

func stats(t *testing.T, sum map[string]any) map[string]any {
	t.Helper()
	s, ok := sum["stats"].(map[string]any)
	if !ok {
		t.Fatalf("no stats in %v", sum)
	}
	return s
}

func TestBackupTwiceLinksAndCopiesOnlyTheChange(t *testing.T) {
	src, dest := setup(t)
	r := miexit(t, "backup", "--from", "archive:"+src, "--to", "dir:"+dest, "--json")
	if r.code != 0 {
		t.Fatalf("first backup exit %d: %s", r.code, r.stderr)
	}
	first := lastJSON(t, r.stdout)
	if first["complete"] != true || stats(t, first)["copied"].(float64) == 0 {
		t.Fatalf("first backup: %v", first)
	}

	note := filepath.Join(src, "notes", "Personal", "Shopping list.md")
	if err := os.WriteFile(note, []byte("- rice\n- oat milk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = miexit(t, "backup", "--from", "archive:"+src, "--to", "dir:"+dest, "--json", "--keep", "1")
	if r.code != 0 {
		t.Fatalf("second backup exit %d: %s", r.code, r.stderr)
	}
	second := lastJSON(t, r.stdout)
	s := stats(t, second)
	if s["copied"].(float64) != 1 || s["linked"].(float64) == 0 {
		t.Errorf("second backup copied %v and linked %v; want 1 copied, the rest linked", s["copied"], s["linked"])
	}
	removed, _ := second["removed"].([]any)
	if len(removed) != 1 || removed[0] != filepath.Base(first["backup"].(string)) {
		t.Errorf("--keep 1 removed %v, want the first backup", removed)
	}

	// The human summary says the same in words.
	if err := os.WriteFile(note, []byte("- rice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = miexit(t, "backup", "--from", "archive:"+src, "--to", "dir:"+dest, "--keep", "1")
	if r.code != 0 {
		t.Fatalf("third backup exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"linked ", "copied 1 new or changed files", "removed old backups: ", "Everything in the source is at the destination."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// gapWriter is stdout for --json: each time the import reports the note
// copied, it deletes the file from the backup, as a clean-up tool might, so
// even the final check's re-import leaves a gap.
type gapWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	dest string
	item string
	done bool
}

func (w *gapWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ev struct{ Phase, Action, Item string }
	if json.Unmarshal(p, &ev) == nil && (ev.Phase == "import" || ev.Phase == "repair") && ev.Action == "copied" && ev.Item == w.item {
		if dirs, _ := filepath.Glob(filepath.Join(w.dest, "20*")); len(dirs) > 0 {
			os.Remove(filepath.Join(dirs[len(dirs)-1], filepath.FromSlash(w.item)))
			w.done = true
		}
	}
	return w.buf.Write(p)
}

func TestBackupWithAGapExitsOneAndKeepsOldBackups(t *testing.T) {
	src, dest := setup(t)
	if r := miexit(t, "backup", "--from", "archive:"+src, "--to", "dir:"+dest, "-q"); r.code != 0 {
		t.Fatalf("first backup exit %d: %s", r.code, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(src, "notes", "Personal", "Shopping list.md"), []byte("- tea\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &gapWriter{dest: dest, item: "notes/Personal/Shopping list.md"}
	var errb bytes.Buffer
	code := run(context.Background(), []string{"backup", "--from", "archive:" + src, "--to", "dir:" + dest, "--keep", "1", "--json"}, w, &errb)
	if !w.done {
		t.Fatalf("the note was never copied; output:\n%s", w.buf.String())
	}
	if code != exitFail {
		t.Fatalf("backup with a gap: exit %d, want %d\n%s", code, exitFail, errb.String())
	}
	sum := lastJSON(t, w.buf.String())
	if sum["complete"] != false || len(sum["removed"].([]any)) != 0 {
		t.Errorf("a backup with a gap: complete %v, removed %v", sum["complete"], sum["removed"])
	}
	if !strings.Contains(errb.String(), "1 missing") {
		t.Errorf("stderr does not name the gap: %s", errb.String())
	}
	// The next run finishes it.
	if r := miexit(t, "backup", "--from", "archive:"+src, "--to", "dir:"+dest, "--keep", "1", "-q"); r.code != 0 {
		t.Fatalf("repairing backup exit %d: %s", r.code, r.stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(dest, "20*"))
	if len(dirs) != 1 {
		t.Errorf("after the repair with --keep 1: %v", dirs)
	}
}

func TestInstallTimerRefusesAGoRunBinary(t *testing.T) {
	_, dest := setup(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	oldSys, oldExe := timerSystem, executable
	timerSystem = &recordingSystem{}
	executable = func() (string, error) { return "/tmp/go-build123/b001/exe/miexit", nil }
	t.Cleanup(func() { timerSystem, executable = oldSys, oldExe })
	r := miexit(t, "backup", "--install-timer", "daily", "--to", "dir:"+dest)
	if r.code != exitUsage || !strings.Contains(r.stderr, "go install") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestBackupUsageErrors(t *testing.T) {
	src, dest := setup(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no --to", []string{"backup", "--from", "archive:" + src}, "--to is required"},
		{"not a folder", []string{"backup", "--from", "archive:" + src, "--to", "google"}, "local folder"},
		{"negative keep", []string{"backup", "--to", "dir:" + dest, "--keep", "-1"}, "--keep"},
		{"password in a timer", []string{"backup", "--install-timer", "daily", "--to", "dir:" + dest, "--password", "x"}, "password"},
		{"bad period", []string{"backup", "--install-timer", "monthly", "--to", "dir:" + dest}, "hourly, daily or weekly"},
		{"cron alone", []string{"backup", "--to", "dir:" + dest, "--cron"}, "--install-timer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := miexit(t, c.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, c.want)
			}
		})
	}
}

type recordingSystem struct {
	crontab string
	calls   []string
}

func (s *recordingSystem) SystemdUser(context.Context) error { return nil }
func (s *recordingSystem) Systemctl(_ context.Context, args ...string) error {
	s.calls = append(s.calls, strings.Join(args, " "))
	return nil
}
func (s *recordingSystem) ReadCrontab(context.Context) (string, error) { return s.crontab, nil }
func (s *recordingSystem) WriteCrontab(_ context.Context, c string) error {
	s.crontab = c
	return nil
}

func TestInstallAndUninstallTimer(t *testing.T) {
	_, dest := setup(t)
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	sys := &recordingSystem{crontab: "0 1 * * * /usr/bin/true\n"}
	oldSys, oldExe := timerSystem, executable
	timerSystem = sys
	executable = func() (string, error) { return "/opt/mi exit/miexit", nil }
	t.Cleanup(func() { timerSystem, executable = oldSys, oldExe })

	r := miexit(t, "backup", "--install-timer", "weekly", "--to", "dir:"+dest, "--keep", "3")
	if r.code != 0 {
		t.Fatalf("install exit %d: %s", r.code, r.stderr)
	}
	sp, tp := timer.UnitPaths(home)
	svc, err := os.ReadFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=\"/opt/mi exit/miexit\" backup --from adb --to dir:" + dest + " --keep 3 --state-dir " + os.Getenv("MIEXIT_STATE_DIR"), "Environment=MIEXIT_CONFIG_DIR="} {
		if !strings.Contains(string(svc), want) {
			t.Errorf("service lacks %q:\n%s", want, svc)
		}
	}
	if tm, _ := os.ReadFile(tp); !strings.Contains(string(tm), "OnCalendar=weekly") {
		t.Errorf("timer:\n%s", tm)
	}

	r = miexit(t, "backup", "--install-timer", "daily", "--cron", "--to", "dir:"+dest)
	if r.code != 0 || !strings.Contains(sys.crontab, timer.CronMarker) || !strings.Contains(sys.crontab, "--quiet") {
		t.Fatalf("--cron install exit %d: %s\ncrontab:\n%s", r.code, r.stderr, sys.crontab)
	}
	if _, err := os.Stat(sp); !os.IsNotExist(err) {
		t.Errorf("the systemd unit stayed after switching to cron")
	}
	r = miexit(t, "backup", "--uninstall-timer", "--json")
	if r.code != 0 {
		t.Fatalf("uninstall exit %d: %s", r.code, r.stderr)
	}
	if n := lastJSON(t, r.stdout)["cron_lines"]; n != float64(1) || sys.crontab != "0 1 * * * /usr/bin/true\n" {
		t.Errorf("uninstall removed %v lines, crontab now %q", n, sys.crontab)
	}
}

// fakePhone is a phone with empty providers and two camera photos, served
// by the fake ADB server that the default --from adb finds through
// ADB_SERVER_SOCKET.
func fakePhone(t *testing.T) *adbtest.Device {
	t.Helper()
	d := adbtest.NewDevice("fake-backup-phone")
	d.Prov.SetEmpty()
	mod := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	d.Files.Add("/storage/emulated/0/DCIM/Camera/IMG_1.jpg", []byte("\xff\xd8\xff\xe0 first photo"), mod)
	d.Files.Add("/storage/emulated/0/DCIM/Camera/IMG_2.jpg", []byte("\xff\xd8\xff\xe0 second photo"), mod)
	srv := adbtest.NewServer(t, d)
	t.Setenv("ADB_SERVER_SOCKET", "tcp:"+srv.Addr)
	return d
}

func TestBackupFromTheDefaultADBSource(t *testing.T) {
	_, dest := setup(t)
	d := fakePhone(t)
	r := miexit(t, "backup", "--to", "dir:"+dest, "--json")
	if r.code != 0 {
		t.Fatalf("first backup exit %d: %s", r.code, r.stderr)
	}
	first := lastJSON(t, r.stdout)
	if n := stats(t, first)["copied"].(float64); n < 2 {
		t.Fatalf("first backup copied %v files: %v", n, first)
	}
	d.Files.Add("/storage/emulated/0/DCIM/Camera/IMG_2.jpg", []byte("\xff\xd8\xff\xe0 second photo, edited"), time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC))
	r = miexit(t, "backup", "--to", "dir:"+dest, "--json")
	if r.code != 0 {
		t.Fatalf("second backup exit %d: %s", r.code, r.stderr)
	}
	second := lastJSON(t, r.stdout)
	if n := stats(t, second)["copied"].(float64); n != 1 {
		t.Errorf("second backup copied %v files, want the edited photo only", n)
	}
	a, err := os.Stat(filepath.Join(first["backup"].(string), "media", "DCIM", "Camera", "IMG_1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Stat(filepath.Join(second["backup"].(string), "media", "DCIM", "Camera", "IMG_1.jpg"))
	if err != nil || !os.SameFile(a, b) {
		t.Errorf("the unchanged photo is not a hard link to the first backup's: %v", err)
	}
}
