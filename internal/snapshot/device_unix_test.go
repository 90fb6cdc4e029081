//go:build unix

package snapshot

import (
	"os"
	"syscall"
)

func sameDevice(a, b os.FileInfo) bool {
	return a.Sys().(*syscall.Stat_t).Dev == b.Sys().(*syscall.Stat_t).Dev
}
