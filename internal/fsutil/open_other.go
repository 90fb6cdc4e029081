//go:build !linux

package fsutil

import "os"

// Open opens the file p for reading.
func Open(p string) (*os.File, error) { return os.Open(p) }
