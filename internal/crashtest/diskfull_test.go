package crashtest

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// A dir: destination on a disk that fills up: `migrate` stops with a
// sentence naming the file and saying to free space and run the same
// command again, leaves no temp file, and once there is room the same
// command finishes with verify passing and the same files as a run that
// never ran out. The disk is a 40 KiB tmpfs (the sample needs about 100
// KiB: tmpfs counts a page per small file), grown to 16 MiB by a remount.
// It needs the right to mount (root with CAP_SYS_ADMIN, as in the CI
// container); without it the test is skipped and says so.
func TestDiskFullThenResume(t *testing.T) {
	t.Parallel()
	want := baseline(t, destinations[0])
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=40k,mode=0755"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (%v): disk full is not tried here", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	root := filepath.Join(mnt, "backup")
	e := newEnv(t)
	args := []string{"migrate", "--from", "archive:" + src, "--to", "dir:" + root}

	r := e.run(t, "", args...)
	if r.code == 0 {
		t.Fatalf("migrate to a 40 KiB disk succeeded: the disk never filled\n%s", r.stdout)
	}
	for _, w := range []string{"the disk holding " + root, "is full", "free some space", "run the same command again", "nothing saved so far was lost"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the disk-full error does not say %q:\n%s", w, r.stderr)
		}
	}
	held := listDir(t, root, true) // fails on temp files
	if len(held) >= len(want) {
		t.Fatalf("the full disk holds %d of %d files: it was not full", len(held), len(want))
	}
	noPartial(t, root, want)

	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT, "size=16m,mode=0755"); err != nil {
		t.Fatalf("grow the tmpfs: %v", err)
	}
	if r := e.run(t, "", args...); r.code != 0 {
		t.Fatalf("the same migrate after freeing space: exit %d\n%s", r.code, r.stderr)
	}
	r = e.run(t, "", "verify", "--from", "archive:"+src, "--to", "dir:"+root, "--json")
	if r.code != 0 || summary(t, r.stdout)["ok"] != true {
		t.Fatalf("verify after freeing space: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := listDir(t, root, true); !slices.Equal(got, want) {
		t.Errorf("after freeing space the folder differs from a run that had room:\n%s", diff(want, got))
	}
	t.Logf("disk full after %d of %d files; the re-run finished", len(held), len(want))
}

// noPartial fails on a file at the destination whose content is not the
// one an uninterrupted run writes (a file cut short by the full disk).
func noPartial(t *testing.T, root string, want []string) {
	t.Helper()
	for _, h := range listDir(t, root, true) {
		if !strings.HasPrefix(h, "manifest.json") && !slices.Contains(want, h) {
			t.Errorf("a partial or wrong file at the destination: %s", h)
		}
	}
}

// A dir: destination where miexit may not write one folder: the error
// names the file and says to give write access and run the same command
// again; after the permission is fixed, the same command finishes. Tests
// run as root in CI, and root ignores file modes, so then the binary runs
// as uid/gid 65534 (nobody) under a folder owned by root; as another user
// the folder is simply made read-only.
func TestPermissionDeniedThenResume(t *testing.T) {
	t.Parallel()
	want := baseline(t, destinations[0])
	base, err := os.MkdirTemp("", "miexit-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	asRoot := os.Getuid() == 0
	const nobody = 65534
	e := &env{state: filepath.Join(base, "state"), config: filepath.Join(base, "config")}
	root := filepath.Join(base, "backup")
	locked := filepath.Join(root, "media")
	for _, d := range []string{e.state, e.config, locked} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// lock makes locked unwritable for the run; unlock fixes that.
	lock, unlock := func() error { return os.Chmod(locked, 0o555) }, func() error { return os.Chmod(locked, 0o755) }
	if asRoot {
		for _, d := range []string{e.state, e.config, root} {
			if err := os.Chown(d, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
		lock = func() error { return nil } // root owns it: nobody may not write
		unlock = func() error { return os.Chown(locked, nobody, nobody) }
	}
	if err := lock(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unlock() })
	run := func(args ...string) result {
		c := e.command(args...)
		if asRoot {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		}
		var o, er strings.Builder
		c.Stdout, c.Stderr = &o, &er
		err := c.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("run miexit %v: %v", args, err)
		}
		return result{c.ProcessState.ExitCode(), o.String(), er.String()}
	}
	args := []string{"migrate", "--from", "archive:" + src, "--to", "dir:" + root}

	r := run(args...)
	if r.code == 0 {
		t.Fatalf("migrate into a folder it may not write succeeded\n%s", r.stdout)
	}
	for _, w := range []string{"may not write " + locked, "permission denied", "write access", "run the same command again"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the permission error does not say %q:\n%s", w, r.stderr)
		}
	}
	noPartial(t, root, want)

	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if r := run(args...); r.code != 0 {
		t.Fatalf("the same migrate after fixing the permission: exit %d\n%s", r.code, r.stderr)
	}
	r = run("verify", "--from", "archive:"+src, "--to", "dir:"+root, "--json")
	if r.code != 0 || summary(t, r.stdout)["ok"] != true {
		t.Fatalf("verify after fixing the permission: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := listDir(t, root, true); !slices.Equal(got, want) {
		t.Errorf("after fixing the permission the folder differs from a run that could write:\n%s", diff(want, got))
	}
	// Everything written belongs to the user who ran miexit.
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && asRoot && !d.IsDir() {
			if fi, err := d.Info(); err == nil && fi.Sys().(*syscall.Stat_t).Uid != nobody {
				t.Errorf("%s is owned by uid %d, not the user who ran miexit", p, fi.Sys().(*syscall.Stat_t).Uid)
			}
		}
		return nil
	})
}
