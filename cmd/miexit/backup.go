package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/miexit/miexit/internal/backup"
	"github.com/miexit/miexit/internal/backup/timer"
	"github.com/miexit/miexit/internal/statedir"
	"github.com/miexit/miexit/internal/ui"
)

// timerSystem is what --install-timer and --uninstall-timer touch; tests
// replace it so they never change the real user's systemd or crontab.
var timerSystem timer.System = timer.Exec{}

// executable finds the binary a timer runs; tests pin it.
var executable = os.Executable

func backupCmd(g *globals) *cobra.Command {
	var from, to, password, every string
	var keep, jobs int
	var uninstall, cron bool
	c := &cobra.Command{
		Use:   "backup --to dir:PATH [--from SRC]",
		Short: "Keep dated, complete backups in a folder; each costs only what changed",
		Long: `backup copies a source into a new dated folder PATH/YYYY-MM-DDTHHMMSSZ, a complete
copy you can browse, like migrate --to dir: writes. Files unchanged since the last
complete backup are hard links to it (no new space); only what changed is copied.
Each backup is verified; exit 1 on any gap, so a scheduler notices. A backup cut
short is finished by the next run, and never counted as good. --keep N removes the
oldest complete backups beyond N, only after the new one is complete; nothing in
PATH that miexit did not make is ever touched.

--install-timer daily|weekly|hourly runs the same command on a schedule: a systemd
user timer (catching up after the machine was off), or a crontab line when there is
no systemd user session or with --cron. --uninstall-timer removes it.`,
		Example: "  miexit backup --to dir:/media/usb/phone-backup\n" +
			"  miexit backup --from archive:testdata/sample --to dir:./backups --keep 3 --json\n" +
			"  miexit backup --install-timer daily --to dir:/media/usb/phone-backup\n" +
			"  miexit backup --uninstall-timer",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keep < 0 {
				return usageError{fmt.Errorf("--keep %d: want 0 (keep all) or more", keep)}
			}
			switch {
			case uninstall:
				if every != "" {
					return usageError{errors.New("--install-timer and --uninstall-timer do not go together")}
				}
				r, err := timer.Uninstall(cmd.Context(), timerSystem, timer.Options{})
				if err != nil {
					return err
				}
				if g.json {
					g.summary("backup", r)
				} else if !g.quiet {
					printUninstalled(g.stdout, r)
				}
				return nil
			case every != "":
				return installTimer(cmd, g, every, from, to, keep, password, cron)
			}
			if cron {
				return usageError{errors.New("--cron goes with --install-timer")}
			}
			if err := need("to", to); err != nil {
				return err
			}
			o := g.options(false)
			o.Password = password
			o.Concurrency = jobs
			res, err := backup.Run(cmd.Context(), from, to, backup.Options{Options: o, Keep: keep})
			g.finish()
			if err != nil {
				if res.Dir != "" && cmd.Context().Err() == nil {
					return fmt.Errorf("backup %s: %w (the next run resumes it)", res.Dir, err)
				}
				return err
			}
			if g.json {
				g.summary("backup", res)
			} else if !g.quiet {
				printBackup(g.stdout, res)
				printVerify(g.stdout, res.Migrate.Verify)
			}
			if !res.Migrate.Verify.OK {
				return gapError{res.Migrate.Verify}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "adb", "source: adb[:SERIAL], archive:PATH, micloud")
	f.StringVar(&to, "to", "", "the folder that holds the dated backups, as dir:PATH")
	f.IntVar(&keep, "keep", 7, "complete backups to keep, the new one included (0 keeps all)")
	f.StringVar(&password, "password", "", "password of an encrypted MIUI backup")
	f.IntVarP(&jobs, "jobs", "j", 4, "files copied at once (downloads from Mi Cloud: at most 8)")
	f.StringVar(&every, "install-timer", "", "run this backup on a schedule: hourly, daily or weekly")
	f.BoolVar(&uninstall, "uninstall-timer", false, "remove the scheduled backup")
	f.BoolVar(&cron, "cron", false, "with --install-timer: use a crontab line even where systemd user timers work")
	c.RegisterFlagCompletionFunc("install-timer", cobra.FixedCompletions([]string{"hourly", "daily", "weekly"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func installTimer(cmd *cobra.Command, g *globals, every, from, to string, keep int, password string, cron bool) error {
	if err := errors.Join(timer.CheckEvery(every), need("to", to)); err != nil {
		return err
	}
	if password != "" {
		return usageError{errors.New("--install-timer does not store a backup password in a unit file or crontab; schedule a source that needs none (adb, an unencrypted archive)")}
	}
	root, err := backup.Root(to)
	if err != nil {
		return err
	}
	src, err := absSource(from)
	if err != nil {
		return err
	}
	exe, err := executable()
	if err != nil {
		return fmt.Errorf("find the miexit binary to schedule: %w", err)
	}
	if e, err := filepath.EvalSymlinks(exe); err == nil {
		exe = e
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return usageError{fmt.Errorf("%s is a temporary `go run` build that will vanish; install miexit first (go install github.com/miexit/miexit/cmd/miexit@latest) and run --install-timer from it", exe)}
	}
	state := g.stateDir
	if state == "" {
		state = statedir.State()
	}
	if state, err = filepath.Abs(state); err != nil {
		return err
	}
	j := timer.Job{
		Exe:   exe,
		Args:  []string{"backup", "--from", src, "--to", "dir:" + root, "--keep", strconv.Itoa(keep), "--state-dir", state},
		Every: every,
	}
	// The scheduler's environment is not this shell's: carry what decides
	// where tokens are and which adb server to ask.
	for _, k := range []string{"MIEXIT_CONFIG_DIR", "ADB_SERVER_SOCKET"} {
		if v := os.Getenv(k); v != "" {
			j.Env = append(j.Env, k+"="+v)
		}
	}
	if cron {
		// cron mails what a job prints: errors only.
		j.Args = append(j.Args, "--quiet")
	}
	res, err := timer.Install(cmd.Context(), timerSystem, j, timer.Options{Cron: cron})
	if err != nil {
		return err
	}
	if g.json {
		g.summary("backup", res)
	} else if !g.quiet {
		switch res.Method {
		case "systemd":
			fmt.Fprintf(g.stdout, "Installed a %s systemd user timer:\n  %s\nCheck it with: systemctl --user list-timers %s.timer\n", every, strings.Join(res.Files, "\n  "), timer.Unit)
		default:
			fmt.Fprintf(g.stdout, "Installed a %s crontab line:\n  %s\n", every, res.CronLine)
		}
		for _, n := range res.Notes {
			fmt.Fprintln(g.stdout, "Note:", n)
		}
	}
	return nil
}

// absSource makes a source that names a local path absolute, since the
// scheduler runs in another folder.
func absSource(src string) (string, error) {
	scheme, arg, ok := strings.Cut(src, ":")
	if !ok || scheme != "archive" || arg == "" {
		return src, nil
	}
	a, err := filepath.Abs(arg)
	if err != nil {
		return "", err
	}
	return "archive:" + a, nil
}

func printBackup(w io.Writer, r backup.Result) {
	s := r.Stats
	fmt.Fprintf(w, "backup %s\n", r.Dir)
	if r.Resumed != "" && r.Resumed != filepath.Base(r.Dir) {
		fmt.Fprintf(w, "  finished the interrupted backup %s\n", r.Resumed)
	}
	if r.LinkedFrom != "" {
		fmt.Fprintf(w, "  linked %d unchanged files (%s) from %s\n", s.Linked, ui.HumanBytes(s.LinkedBytes), r.LinkedFrom)
	}
	if s.LinkCopied > 0 {
		fmt.Fprintf(w, "  copied %d files (%s) from %s: hard links are not possible there\n", s.LinkCopied, ui.HumanBytes(s.LinkCopiedBytes), r.LinkedFrom)
	}
	fmt.Fprintf(w, "  copied %d new or changed files (%s), %d already there\n", s.Copied, ui.HumanBytes(s.CopiedBytes), s.Unchanged)
	if s.Dropped > 0 {
		fmt.Fprintf(w, "  %d files the source no longer has stay only in the older backups\n", s.Dropped)
	}
	if len(r.Removed) > 0 {
		fmt.Fprintf(w, "  removed old backups: %s\n", strings.Join(r.Removed, ", "))
	}
	if r.Complete {
		fmt.Fprintf(w, "  complete; backups kept: %d\n", len(r.Kept))
	} else {
		fmt.Fprintln(w, "  NOT complete: verify found gaps (below); the next run finishes this backup, and no old backup was removed")
	}
}

func printUninstalled(w io.Writer, r timer.Removed) {
	if len(r.Files) == 0 && r.CronLines == 0 {
		fmt.Fprintln(w, "No scheduled miexit backup was installed.")
		return
	}
	for _, f := range r.Files {
		fmt.Fprintln(w, "Removed", f)
	}
	if r.CronLines > 0 {
		fmt.Fprintf(w, "Removed %d miexit line(s) from your crontab\n", r.CronLines)
	}
}
