package ledger

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// dropPages takes the ledger file's pages out of this process's resident
// memory. bbolt reads records through a shared, read-only mmap of the
// file, and every page a Get touches stays resident, counted as this
// process's, until the ledger closes: a migrate's import and final check
// read every record, 5 MB of pages at 50,000 files that are not read
// again. MADV_DONTNEED on a shared file mapping only unmaps the pages: a
// later read maps them again from the page cache, with the same bytes.
// It runs inside a read transaction, under which bbolt cannot remap the
// file, so the range is the mapping bbolt made.
func (l *Ledger) dropPages() {
	_ = l.db.View(func(tx *bolt.Tx) error {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, l.db.Info().Data, uintptr(tx.Size()), unix.MADV_DONTNEED)
		return nil
	})
}
