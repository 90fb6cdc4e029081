package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"

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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		// EOPNOTSUPP, EISDIR on old kernels, ...: use a named temp file.
		return nil, false
	}
	return os.NewFile(uintptr(fd), dst), true
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
