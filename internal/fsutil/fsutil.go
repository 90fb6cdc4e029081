// Package fsutil holds the file-system moves every part of miexit makes the
// same way: atomic writes (temp file + rename) and joins of untrusted paths.
package fsutil

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miexit/miexit/mapping"
)

// TempPrefix starts the name of every temp file miexit writes, so listings
// and walks can skip the leftovers of a killed run.
const TempPrefix = ".miexit-tmp-"

// IsTemp reports whether a file name is one of miexit's temp files.
func IsTemp(name string) bool { return strings.HasPrefix(filepath.Base(name), TempPrefix) }

// Join joins an untrusted relative path under root, refusing anything that
// would leave root.
func Join(root, rel string) (string, error) {
	c, err := mapping.CleanRelPath(rel)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(c)), nil
}

// CreateTemp creates a temp file in the folder of dst (creating the folder),
// so the final rename stays on one file system and is atomic.
func CreateTemp(dst string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(filepath.Dir(dst), TempPrefix+"*")
}

// Commit closes f, optionally syncing it, and renames it to dst.
func Commit(f *os.File, dst string, sync bool) error {
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			os.Remove(f.Name())
			return err
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Abort closes and removes a temp file.
func Abort(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// WriteFile writes data to dst atomically.
func WriteFile(dst string, data []byte, sync bool) error {
	f, err := CreateTemp(dst)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		Abort(f)
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return Commit(f, dst, sync)
}

// CopyFrom writes r to dst atomically.
func CopyFrom(dst string, r io.Reader, sync bool) (int64, error) {
	f, err := CreateTemp(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err != nil {
		Abort(f)
		return n, err
	}
	return n, Commit(f, dst, sync)
}

// SyncDir flushes a folder's entries, so renames into it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// copyBufferBytes is the chunk Copy moves: large enough that a 1 GB video
// is a few thousand reads and writes, not tens of thousands.
const copyBufferBytes = 256 << 10

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferBytes); return &b }}

// Copy is io.Copy through a pooled 256 KiB buffer, so copying many files
// allocates nothing per file and moves big ones in few system calls.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	// Hiding ReadFrom/WriteTo makes io.CopyBuffer use this buffer instead
	// of a 32 KiB one of its own.
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}

// ContextReader stops a long read when ctx ends, between two reads.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// SweepTemps removes the temp files a killed run left under root. Callers
// hold root for themselves (the ledger lock, the snapshot's one writer), so
// every temp file there is debris.
func SweepTemps(ctx context.Context, root string, log *slog.Logger) error {
	return filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", root, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if de.Type().IsRegular() && IsTemp(p) {
			if err := os.Remove(p); err != nil {
				return Explain(p, fmt.Errorf("remove leftover %s: %w", p, err))
			}
			log.Info("removed a temp file left by an interrupted run", "path", p)
		}
		return nil
	})
}
