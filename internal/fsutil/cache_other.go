//go:build !linux

package fsutil

import "os"

// LetGo is a no-op where the system has no posix_fadvise in x/sys.
func LetGo(f *os.File) {}
