// Package timer schedules `miexit backup`: a systemd user service and timer
// where a user session is reachable, a crontab line otherwise. Writing the
// units is pure (Service, Timer, CronLine); everything that touches the
// user's system goes through System, so tests never do.
package timer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/mapping"
)

// Unit is the name of the service and timer units.
const Unit = "miexit-backup"

// CronMarker ends miexit's crontab line, so uninstall finds that line and
// no other.
const CronMarker = "# miexit-backup-timer"

// Job is what to run and how often.
type Job struct {
	Exe   string   // absolute path of the miexit binary
	Args  []string // arguments after Exe
	Env   []string // KEY=VALUE pairs the run needs
	Every string   // hourly, daily or weekly
}

var cronTimes = map[string]string{
	"hourly": "17 * * * *",
	"daily":  "17 3 * * *",
	"weekly": "17 3 * * 1",
}

// CheckEvery says whether every is a period a timer can run at.
func CheckEvery(every string) error {
	if _, ok := cronTimes[every]; !ok {
		return fmt.Errorf("%w: --install-timer %q: want hourly, daily or weekly", mapping.ErrBadInput, every)
	}
	return nil
}

func (j Job) check() error {
	if err := CheckEvery(j.Every); err != nil {
		return err
	}
	if !filepath.IsAbs(j.Exe) {
		return fmt.Errorf("%w: %q is not an absolute path to miexit", mapping.ErrBadInput, j.Exe)
	}
	for _, s := range append(append([]string{j.Exe}, j.Args...), j.Env...) {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("%w: %q holds a control character; a scheduled command cannot carry it", mapping.ErrBadInput, s)
		}
	}
	for _, kv := range j.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsAny(k, " \"'\\$%") {
			return fmt.Errorf("%w: environment entry %q is not KEY=VALUE", mapping.ErrBadInput, kv)
		}
	}
	return nil
}

// Service returns the systemd user service that runs the job once.
func Service(j Job) (string, error) {
	if err := j.check(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# Written by `miexit backup --install-timer`; remove with `miexit backup --uninstall-timer`.\n")
	b.WriteString("[Unit]\nDescription=miexit scheduled backup to a local folder\n")
	b.WriteString("Documentation=https://github.com/miexit/miexit#scheduled-backups\n\n")
	b.WriteString("[Service]\nType=oneshot\n")
	for _, kv := range j.Env {
		b.WriteString("Environment=" + systemdWord(kv, false) + "\n")
	}
	b.WriteString("ExecStart=" + systemdWord(j.Exe, true))
	for _, a := range j.Args {
		b.WriteString(" " + systemdWord(a, false))
	}
	// A backup should not slow down the person using the machine.
	b.WriteString("\nNice=10\nIOSchedulingClass=idle\n")
	return b.String(), nil
}

// Timer returns the systemd user timer. Persistent=true runs a backup
// missed while the machine was off soon after it boots.
func Timer(j Job) (string, error) {
	if err := j.check(); err != nil {
		return "", err
	}
	return "# Written by `miexit backup --install-timer`; remove with `miexit backup --uninstall-timer`.\n" +
		"[Unit]\nDescription=miexit backup, " + j.Every + "\n\n" +
		"[Timer]\nOnCalendar=" + j.Every + "\nPersistent=true\nRandomizedDelaySec=10min\nUnit=" + Unit + ".service\n\n" +
		"[Install]\nWantedBy=timers.target\n", nil
}

// systemdWord quotes s as one word of a systemd directive: '%' starts a
// specifier and '$' a variable (in arguments, not in the executable path),
// and quotes and backslashes are C-style escapes.
func systemdWord(s string, exe bool) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !exe {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	if s == ";" {
		// A lone semicolon would separate two commands.
		return `\;`
	}
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !safeRune(r) }) {
		return s
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

func safeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@+,%$", r)
}

// CronLine returns the crontab line that runs the job, ending in
// CronMarker. cron runs it with /bin/sh; '%' is special to cron itself.
func CronLine(j Job) (string, error) {
	if err := j.check(); err != nil {
		return "", err
	}
	var words []string
	for _, kv := range j.Env {
		k, v, _ := strings.Cut(kv, "=")
		words = append(words, k+"="+shellWord(v))
	}
	words = append(words, shellWord(j.Exe))
	for _, a := range j.Args {
		words = append(words, shellWord(a))
	}
	cmd := strings.ReplaceAll(strings.Join(words, " "), "%", `\%`)
	return cronTimes[j.Every] + " " + cmd + " " + CronMarker, nil
}

func shellWord(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !safeRune(r) || r == '$' || r == '%' }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// System is what installing a timer touches beyond files.
type System interface {
	// SystemdUser returns nil when `systemctl --user` can reach the
	// user's service manager.
	SystemdUser(ctx context.Context) error
	// Systemctl runs `systemctl --user ARGS`.
	Systemctl(ctx context.Context, args ...string) error
	// ReadCrontab returns the user's crontab ("" when there is none).
	ReadCrontab(ctx context.Context) (string, error)
	// WriteCrontab replaces the user's crontab.
	WriteCrontab(ctx context.Context, content string) error
}

// Options say where and how to install.
type Options struct {
	ConfigHome string // default ConfigHome()
	Cron       bool   // crontab even when systemd is usable
}

// ConfigHome is $XDG_CONFIG_HOME, else ~/.config.
func ConfigHome() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return d
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config")
	}
	return ""
}

// UnitPaths are the service and timer files under configHome.
func UnitPaths(configHome string) (service, timer string) {
	dir := filepath.Join(configHome, "systemd", "user")
	return filepath.Join(dir, Unit+".service"), filepath.Join(dir, Unit+".timer")
}

// Installed says what Install did.
type Installed struct {
	Method   string   `json:"method"` // systemd or cron
	Files    []string `json:"files,omitempty"`
	CronLine string   `json:"cron_line,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// Install schedules j, replacing an earlier miexit timer of either kind.
func Install(ctx context.Context, sys System, j Job, o Options) (Installed, error) {
	if o.ConfigHome == "" {
		o.ConfigHome = ConfigHome()
	}
	service, err := Service(j)
	if err != nil {
		return Installed{}, err
	}
	timer, err := Timer(j)
	if err != nil {
		return Installed{}, err
	}
	line, err := CronLine(j)
	if err != nil {
		return Installed{}, err
	}
	var notes []string
	useCron := o.Cron
	var noSystemd error
	if !useCron {
		if noSystemd = sys.SystemdUser(ctx); noSystemd != nil {
			useCron = true
			notes = append(notes, fmt.Sprintf("systemd user session not reachable (%v); using cron instead", noSystemd))
		}
	}
	if useCron {
		// A unit left from an earlier install would run the backup twice.
		if _, err := removeUnits(ctx, sys, o.ConfigHome); err != nil {
			return Installed{}, err
		}
		tab, err := sys.ReadCrontab(ctx)
		if err != nil && noSystemd != nil {
			return Installed{}, fmt.Errorf("cannot schedule here: no systemd user session (%v) and no usable crontab (%v); install cron, or run this inside your desktop or ssh session where `systemctl --user` works", noSystemd, err)
		}
		if err != nil {
			return Installed{}, fmt.Errorf("read crontab: %w", err)
		}
		tab, _ = stripCron(tab)
		if tab != "" && !strings.HasSuffix(tab, "\n") {
			tab += "\n"
		}
		if err := sys.WriteCrontab(ctx, tab+line+"\n"); err != nil {
			return Installed{}, fmt.Errorf("write crontab: %w", err)
		}
		notes = append(notes, "cron does not catch up on a run missed while the machine was off")
		return Installed{Method: "cron", CronLine: line, Notes: notes}, nil
	}

	sp, tp := UnitPaths(o.ConfigHome)
	for p, content := range map[string]string{sp: service, tp: timer} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return Installed{}, err
		}
		if err := fsutil.WriteFile(p, []byte(content), true); err != nil {
			return Installed{}, fmt.Errorf("write %s: %w", p, err)
		}
	}
	if err := sys.Systemctl(ctx, "daemon-reload"); err != nil {
		return Installed{}, err
	}
	if err := sys.Systemctl(ctx, "enable", "--now", Unit+".timer"); err != nil {
		return Installed{}, err
	}
	if tab, err := sys.ReadCrontab(ctx); err == nil {
		if rest, n := stripCron(tab); n > 0 {
			if err := sys.WriteCrontab(ctx, rest); err != nil {
				return Installed{}, fmt.Errorf("remove the old miexit crontab line: %w", err)
			}
			notes = append(notes, "removed the earlier miexit crontab line")
		}
	}
	notes = append(notes, "user timers run while you are logged in; to run them otherwise: loginctl enable-linger "+os.Getenv("USER"))
	return Installed{Method: "systemd", Files: []string{sp, tp}, Notes: notes}, nil
}

// Removed says what Uninstall removed.
type Removed struct {
	Files     []string `json:"files"`
	CronLines int      `json:"cron_lines"`
}

// Uninstall removes miexit's units and crontab line, and nothing else.
func Uninstall(ctx context.Context, sys System, o Options) (Removed, error) {
	if o.ConfigHome == "" {
		o.ConfigHome = ConfigHome()
	}
	var r Removed
	var err error
	if r.Files, err = removeUnits(ctx, sys, o.ConfigHome); err != nil {
		return r, err
	}
	tab, cerr := sys.ReadCrontab(ctx)
	if cerr != nil {
		// No usable cron here, so no line of ours either.
		return r, nil
	}
	rest, n := stripCron(tab)
	if n > 0 {
		if err := sys.WriteCrontab(ctx, rest); err != nil {
			return r, fmt.Errorf("write crontab: %w", err)
		}
	}
	r.CronLines = n
	return r, nil
}

// removeUnits stops and deletes miexit's unit files, if there are any.
func removeUnits(ctx context.Context, sys System, configHome string) ([]string, error) {
	sp, tp := UnitPaths(configHome)
	var present []string
	for _, p := range []string{sp, tp} {
		if _, err := os.Lstat(p); err == nil {
			present = append(present, p)
		}
	}
	if len(present) == 0 {
		return nil, nil
	}
	// Without a user session there is nothing running to stop.
	_ = sys.Systemctl(ctx, "disable", "--now", Unit+".timer")
	for _, p := range present {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove %s: %w", p, err)
		}
	}
	_ = sys.Systemctl(ctx, "daemon-reload")
	return present, nil
}

// stripCron drops the lines that end in CronMarker, keeping every other
// byte of the crontab as it was.
func stripCron(tab string) (string, int) {
	if tab == "" {
		return "", 0
	}
	lines := strings.SplitAfter(tab, "\n")
	var keep []string
	n := 0
	for _, l := range lines {
		if strings.HasSuffix(strings.TrimRight(l, " \t\r\n"), CronMarker) {
			n++
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, ""), n
}
