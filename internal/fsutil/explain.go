package fsutil

import (
	"errors"
	"fmt"
	"syscall"
)

// explained is an error Explain turned into a sentence a person can act
// on; the original stays reachable for errors.Is and errors.As.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg + " (" + e.err.Error() + ")" }
func (e *explained) Unwrap() error { return e.err }

// resume ends every explanation: the run stopped cleanly and may be
// repeated.
const resume = "then run the same command again: it goes on where it stopped, and nothing saved so far was lost"

// Explain turns a failed write at path into plain words when the cause is
// the disk or its permissions: full (ENOSPC, EDQUOT), a file size limit
// (EFBIG), permission denied (EACCES, EPERM) or a read-only file system
// (EROFS). Other errors, nil, and errors already explained come back as
// they are. errors.Is(result, syscall.ENOSPC) and the like keep working.
func Explain(path string, err error) error {
	if err == nil {
		return nil
	}
	var done *explained
	if errors.As(err, &done) {
		return err
	}
	var msg string
	switch {
	case errors.Is(err, syscall.ENOSPC):
		msg = fmt.Sprintf("the disk holding %s is full; free some space there (or choose a destination on another disk), %s", path, resume)
	case errors.Is(err, syscall.EDQUOT):
		msg = fmt.Sprintf("your disk quota on the disk holding %s is used up; free some space there (or choose another destination), %s", path, resume)
	case errors.Is(err, syscall.EFBIG):
		msg = fmt.Sprintf("%s would grow past the largest file this system lets miexit write (a file size limit, `ulimit -f`, or a file system such as FAT32 that stops at 4 GiB); raise the limit or choose another destination, %s", path, resume)
	case errors.Is(err, syscall.EROFS):
		msg = fmt.Sprintf("%s is on a read-only disk; make it writable (or choose another destination), %s", path, resume)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		msg = fmt.Sprintf("miexit may not write %s (permission denied); give your user write access to that folder (or choose another destination), %s", path, resume)
	default:
		return err
	}
	return &explained{msg: msg, err: err}
}
