package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procFD tells whether /proc/self/fd is there to name hidden files by.
var procFD = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

func createHidden(dst string) (*os.File, bool) {
	if !procFD() {
		return nil, false
	}
	dir := filepath.Dir(dst)
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ENOENT) {
		// Made by the first file written into it: a MkdirAll before
		// every file was one more path walk each.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, false
		}
		fd, err = unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	}
	if err != nil {
		// EOPNOTSUPP, EISDIR on old kernels, ...: use a named temp file.
		return nil, false
	}
	return os.NewFile(uintptr(fd), dst), true
}

// setTimes sets the access and modification times of the open file f:
// utimensat with a nil path is Linux's futimens, which x/sys/unix lacks
// (its Futimes goes through /proc/self/fd, a path walk per file).
func setTimes(f *os.File, t time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return &os.PathError{Op: "chtimes", Path: f.Name(), Err: e}
	}
	return nil
}

// linkHidden names the O_TMPFILE file f dst. linkat through /proc needs no
// privilege (AT_EMPTY_PATH would); it refuses an existing name, so a
// replacement is linked under a temp name and renamed over dst.
func linkHidden(f *os.File, dst string) error {
	src := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
	if !errors.Is(err, unix.EEXIST) {
		if err != nil {
			return &os.LinkError{Op: "link", Old: src, New: dst, Err: err}
		}
		return nil
	}
	tmp := filepath.Join(filepath.Dir(dst), TempPrefix+"new-"+strconv.FormatInt(int64(os.Getpid()), 36)+"-"+strconv.Itoa(int(f.Fd())))
	os.Remove(tmp)
	if err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "link", Old: src, New: tmp, Err: err}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
