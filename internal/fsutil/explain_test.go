package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestExplainSaysWhatToDoAndKeepsTheCause(t *testing.T) {
	const p = "/backup/media/DCIM/IMG_1.jpg"
	for _, tc := range []struct {
		name  string
		errno syscall.Errno
		want  []string
	}{
		{"disk full", syscall.ENOSPC, []string{"the disk holding " + p + " is full", "free some space"}},
		{"quota", syscall.EDQUOT, []string{"quota", p, "free some space"}},
		{"file size limit", syscall.EFBIG, []string{p, "file size limit", "raise the limit"}},
		{"read-only", syscall.EROFS, []string{p, "read-only", "make it writable"}},
		{"permission denied", syscall.EACCES, []string{"may not write " + p, "permission denied", "write access"}},
		{"not permitted", syscall.EPERM, []string{"may not write " + p, "write access"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cause := fmt.Errorf("write %s: %w", p, &os.PathError{Op: "write", Path: p, Err: tc.errno})
			err := Explain(p, cause)
			for _, w := range append(tc.want, "run the same command again", "nothing saved so far was lost") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if !errors.Is(err, tc.errno) {
				t.Errorf("errors.Is(err, %v) is false: the cause was lost", tc.errno)
			}
			var pe *os.PathError
			if !errors.As(err, &pe) || pe.Path != p {
				t.Error("errors.As cannot reach the *os.PathError")
			}
			if again := Explain("/other", err); again != err {
				t.Errorf("explaining twice changed the message: %v", again)
			}
		})
	}
}

func TestExplainLeavesOtherErrorsAlone(t *testing.T) {
	if Explain("/x", nil) != nil {
		t.Error("nil became an error")
	}
	for _, err := range []error{fs.ErrNotExist, syscall.EIO, errors.New("bad input")} {
		if got := Explain("/x", err); got != err {
			t.Errorf("Explain(%v) = %v, want it unchanged", err, got)
		}
	}
	// fs.ErrPermission is what os returns for EACCES: it must be explained.
	if got := Explain("/x", &os.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}); !errors.Is(got, fs.ErrPermission) || !strings.Contains(got.Error(), "write access") {
		t.Errorf("EACCES: %v", got)
	}
}
