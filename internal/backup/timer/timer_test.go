package timer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func job(exe string) Job {
	return Job{
		Exe:   exe,
		Args:  []string{"backup", "--to", "dir:/media/usb/Phone backup", "--from", "adb", "--keep", "7", "--state-dir", "/home/ana/50%$HOME\"x'"},
		Env:   []string{"ADB_SERVER_SOCKET=tcp:localhost:5037"},
		Every: "daily",
	}
}

func TestServiceQuotesEveryWordForSystemd(t *testing.T) {
	s, err := Service(job("/opt/mi exit/bin/miexit%1$"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n[Service]\nType=oneshot\n",
		"\nEnvironment=ADB_SERVER_SOCKET=tcp:localhost:5037\n",
		// The path: '%' doubled, '$' kept (systemd does not expand it
		// there), quoted for the space.
		"\nExecStart=\"/opt/mi exit/bin/miexit%%1$\" backup --to \"dir:/media/usb/Phone backup\" --from adb --keep 7 " +
			// An argument: '%' and '$' doubled, '"' escaped.
			`--state-dir "/home/ana/50%%$$HOME\"x'"` + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("service lacks %q:\n%s", want, s)
		}
	}
}

func TestTimerRunsMissedBackupsAndNamesItsService(t *testing.T) {
	for _, every := range []string{"hourly", "daily", "weekly"} {
		j := job("/usr/bin/miexit")
		j.Every = every
		s, err := Timer(j)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"\nOnCalendar=" + every + "\n", "\nPersistent=true\n", "\nUnit=miexit-backup.service\n", "\nWantedBy=timers.target\n"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s timer lacks %q:\n%s", every, want, s)
			}
		}
	}
}

func TestBadJobsAreRefused(t *testing.T) {
	cases := map[string]Job{
		"unknown period":    {Exe: "/usr/bin/miexit", Every: "monthly"},
		"relative binary":   {Exe: "miexit", Every: "daily"},
		"newline in an arg": {Exe: "/usr/bin/miexit", Args: []string{"--to", "dir:/a\nb"}, Every: "daily"},
		"bad env entry":     {Exe: "/usr/bin/miexit", Env: []string{"NOEQUALS"}, Every: "daily"},
	}
	for name, j := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Service(j); err == nil {
				t.Error("Service accepted it")
			}
			if _, err := CronLine(j); err == nil {
				t.Error("CronLine accepted it")
			}
		})
	}
}

func TestCronLineIsShellQuotedAndMarked(t *testing.T) {
	line, err := CronLine(job("/opt/mi exit/miexit"))
	if err != nil {
		t.Fatal(err)
	}
	want := `17 3 * * * ADB_SERVER_SOCKET=tcp:localhost:5037 '/opt/mi exit/miexit' backup --to 'dir:/media/usb/Phone backup' --from adb --keep 7 --state-dir '/home/ana/50\%$HOME"x'\'''` + " " + CronMarker
	if line != want {
		t.Errorf("cron line\n got %s\nwant %s", line, want)
	}
	if strings.Contains(line, "\n") {
		t.Error("cron line spans lines")
	}
}

// The units as written pass systemd's own checker, with a binary path that
// needs every kind of quoting.
func TestUnitsPassSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing in CI (Debian package systemd): install it")
		}
		t.Skip("systemd-analyze not installed (Debian package systemd); the unit files are not checked by systemd here")
	}
	if runtime.GOOS != "linux" {
		t.Skip("systemd units are Linux only")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "mi exit", "miexit%1$x")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "config")
	fake := &fakeSystem{}
	for _, every := range []string{"hourly", "daily", "weekly"} {
		j := job(exe)
		j.Every = every
		if _, err := Install(context.Background(), fake, j, Options{ConfigHome: home}); err != nil {
			t.Fatal(err)
		}
		sp, tp := UnitPaths(home)
		out, err := exec.Command(analyze, "verify", sp, tp).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("%s: systemd-analyze verify: %v\n%s", every, err, out)
		}
	}
	// The check can fail: a unit naming a binary that is not there.
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	sp, tp := UnitPaths(home)
	if out, err := exec.Command(analyze, "verify", sp, tp).CombinedOutput(); err == nil {
		t.Errorf("systemd-analyze verify passed a unit whose binary is gone:\n%s", out)
	}
}

type fakeSystem struct {
	noSystemd bool
	noCron    bool
	crontab   string
	calls     []string
}

func (f *fakeSystem) SystemdUser(context.Context) error {
	if f.noSystemd {
		return errors.New("Failed to connect to bus: No medium found")
	}
	return nil
}

func (f *fakeSystem) Systemctl(_ context.Context, args ...string) error {
	f.calls = append(f.calls, strings.Join(args, " "))
	if f.noSystemd {
		return errors.New("Failed to connect to bus")
	}
	return nil
}

func (f *fakeSystem) ReadCrontab(context.Context) (string, error) {
	if f.noCron {
		return "", errors.New("crontab: not found")
	}
	return f.crontab, nil
}

func (f *fakeSystem) WriteCrontab(_ context.Context, s string) error {
	if f.noCron {
		return errors.New("crontab: not found")
	}
	f.crontab = s
	return nil
}

const userCrontab = "MAILTO=ana@example.com\n# my own jobs\n0 * * * * /home/ana/bin/sync-mail # miexit-backup is great\n30 2 * * * /usr/bin/miexit migrate --to dir:/x\n"

func TestInstallWritesUnitsAndEnablesTheTimer(t *testing.T) {
	home := t.TempDir()
	fake := &fakeSystem{crontab: userCrontab}
	got, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: home})
	if err != nil {
		t.Fatal(err)
	}
	sp, tp := UnitPaths(home)
	if got.Method != "systemd" || !slices.Equal(got.Files, []string{sp, tp}) {
		t.Errorf("installed %+v", got)
	}
	if sp != filepath.Join(home, "systemd", "user", "miexit-backup.service") {
		t.Errorf("service at %s", sp)
	}
	for _, p := range []string{sp, tp} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if want := []string{"daemon-reload", "enable --now miexit-backup.timer"}; !slices.Equal(fake.calls, want) {
		t.Errorf("systemctl calls %q, want %q", fake.calls, want)
	}
	if fake.crontab != userCrontab {
		t.Errorf("systemd install changed the crontab:\n%s", fake.crontab)
	}
}

func TestInstallFallsBackToCronAndUninstallRemovesOnlyOurLine(t *testing.T) {
	home := t.TempDir()
	fake := &fakeSystem{noSystemd: true, crontab: strings.TrimSuffix(userCrontab, "\n")}
	got, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: home})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "cron" || !strings.HasSuffix(fake.crontab, got.CronLine+"\n") {
		t.Fatalf("installed %+v; crontab:\n%s", got, fake.crontab)
	}
	if !strings.HasPrefix(fake.crontab, userCrontab) {
		t.Errorf("the user's lines changed:\n%s", fake.crontab)
	}
	// Installing again replaces the line instead of adding a second.
	if _, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: home}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(fake.crontab, CronMarker); n != 1 {
		t.Errorf("%d miexit lines after a second install:\n%s", n, fake.crontab)
	}
	sp, _ := UnitPaths(home)
	if _, err := os.Stat(sp); !os.IsNotExist(err) {
		t.Errorf("cron install wrote unit files: %v", err)
	}

	r, err := Uninstall(context.Background(), fake, Options{ConfigHome: home})
	if err != nil {
		t.Fatal(err)
	}
	if r.CronLines != 1 || fake.crontab != userCrontab {
		t.Errorf("uninstall removed %d lines; crontab now:\n%q\nwant\n%q", r.CronLines, fake.crontab, userCrontab)
	}
}

func TestCronFlagAndSwitchingMethodsLeaveOneSchedule(t *testing.T) {
	home := t.TempDir()
	fake := &fakeSystem{}
	if _, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: home}); err != nil {
		t.Fatal(err)
	}
	got, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: home, Cron: true})
	if err != nil || got.Method != "cron" {
		t.Fatalf("--cron: %+v, %v", got, err)
	}
	sp, tp := UnitPaths(home)
	for _, p := range []string{sp, tp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("switching to cron left %s", p)
		}
	}
	if !slices.Contains(fake.calls, "disable --now miexit-backup.timer") {
		t.Errorf("the old timer was not disabled: %q", fake.calls)
	}
	// And back: the cron line goes.
	if _, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: home}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fake.crontab, CronMarker) {
		t.Errorf("switching to systemd left the cron line:\n%s", fake.crontab)
	}
}

func TestUninstallWithoutCronStillRemovesUnits(t *testing.T) {
	home := t.TempDir()
	fake := &fakeSystem{noCron: true}
	if _, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: home}); err != nil {
		t.Fatal(err)
	}
	r, err := Uninstall(context.Background(), fake, Options{ConfigHome: home})
	if err != nil || len(r.Files) != 2 {
		t.Fatalf("uninstall: %+v, %v", r, err)
	}
	// Nothing installed and no cron: nothing removed, and no error.
	if r, err := Uninstall(context.Background(), fake, Options{ConfigHome: home}); err != nil || len(r.Files) != 0 || r.CronLines != 0 {
		t.Errorf("second uninstall: %+v, %v", r, err)
	}
}

func TestConfigHomeHonoursXDG(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg-config")
	if got := ConfigHome(); got != "/tmp/xdg-config" {
		t.Errorf("ConfigHome() = %s", got)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/ana")
	if got := ConfigHome(); got != "/home/ana/.config" {
		t.Errorf("ConfigHome() = %s", got)
	}
}

func TestNeitherSystemdNorCronSaysBoth(t *testing.T) {
	fake := &fakeSystem{noSystemd: true, noCron: true}
	_, err := Install(context.Background(), fake, job("/usr/bin/miexit"), Options{ConfigHome: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no systemd user session") || !strings.Contains(err.Error(), "crontab") {
		t.Errorf("error %v does not name both schedulers", err)
	}
}
