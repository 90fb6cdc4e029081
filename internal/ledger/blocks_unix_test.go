//go:build unix

package ledger

import (
	"os"
	"syscall"
)

func fileBlocks(st os.FileInfo) int64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Blocks * 512
	}
	return st.Size()
}
