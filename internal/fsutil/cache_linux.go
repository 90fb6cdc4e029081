package fsutil

import (
	"os"

	"golang.org/x/sys/unix"
)

// LetGo tells the kernel that f's cached pages will not be read again
// soon, so they are the first reused (a hint: errors are ignored).
func LetGo(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED) })
	}
}
