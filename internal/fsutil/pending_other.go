//go:build !linux

package fsutil

import "os"

func createHidden(string) (*os.File, bool) { return nil, false }

func linkHidden(*os.File, string) error { panic("unreachable") }
