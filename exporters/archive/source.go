package archive

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// member is one file of an archive, from a folder or a zip.
type member struct {
	Name    string // cleaned relative path, forward slashes
	Size    int64
	ModTime time.Time
	open    func() (io.ReadCloser, error)
	// local is the member's own file when it is one on this computer (a
	// folder archive's), which the snapshot may link instead of copy.
	local string
	// hashed is local's sha256, when it was read ahead (hashAhead).
	hashed *snapshot.LocalHash
	// depth counts the zips this member is inside.
	depth int
}

// Limits against zip bombs: a member may expand at most maxRatio times its
// compressed size (beyond a small floor), and the archive at most maxTotal.
const (
	maxRatio     = 200
	ratioFloor   = 1 << 20
	maxTotal     = 1 << 40
	maxZipMember = 64 << 30
)

// walker lists an archive's members in name order, so exports are
// deterministic.
type walker interface {
	walk(ctx context.Context, fn func(m member) error, skip func(name, why string)) error
	close() error
}

func openWalker(p string) (walker, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", mapping.ErrBadInput, p, err)
	}
	if st.IsDir() {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		return dirWalker{root: abs}, nil
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is neither a folder nor a readable zip: %w", mapping.ErrBadInput, p, err)
	}
	return &zipWalker{name: p, zr: &zr.Reader, closer: zr}, nil
}

type dirWalker struct{ root string }

func (d dirWalker) close() error { return nil }

func (d dirWalker) walk(ctx context.Context, fn func(m member) error, skip func(name, why string)) error {
	// WalkDir visits entries in lexical order and never follows symlinks.
	return filepath.WalkDir(d.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.root, p)
		rel = filepath.ToSlash(rel)
		if de.IsDir() {
			return nil
		}
		if !de.Type().IsRegular() {
			skip(rel, "not a regular file (symlinks and devices are not followed)")
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		c, err := mapping.CleanRelPath(rel)
		if err != nil {
			skip(rel, err.Error())
			return nil
		}
		return fn(member{Name: c, Size: info.Size(), ModTime: info.ModTime(), local: p, open: func() (io.ReadCloser, error) { return fsutil.Open(p) }})
	})
}

type zipWalker struct {
	name   string
	zr     *zip.Reader
	closer io.Closer
}

func (z *zipWalker) close() error {
	if z.closer != nil {
		return z.closer.Close()
	}
	return nil
}

func (z *zipWalker) walk(ctx context.Context, fn func(m member) error, skip func(name, why string)) error {
	files := append([]*zip.File(nil), z.zr.File...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	var total uint64
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasSuffix(f.Name, "/") || f.FileInfo().IsDir() {
			continue
		}
		if !f.Mode().IsRegular() {
			skip(f.Name, "not a regular file (symlinks are not followed)")
			continue
		}
		c, err := mapping.CleanRelPath(f.Name)
		if err != nil {
			skip(f.Name, err.Error())
			continue
		}
		if f.UncompressedSize64 > maxZipMember ||
			(f.UncompressedSize64 > ratioFloor && f.UncompressedSize64/max(f.CompressedSize64, 1) > maxRatio) {
			return fmt.Errorf("%w: %s: member %s claims %d bytes from %d compressed: refusing a likely zip bomb",
				mapping.ErrBadInput, z.name, f.Name, f.UncompressedSize64, f.CompressedSize64)
		}
		total += f.UncompressedSize64
		if total > maxTotal {
			return fmt.Errorf("%w: %s: more than %d bytes uncompressed: refusing a likely zip bomb", mapping.ErrBadInput, z.name, uint64(maxTotal))
		}
		f := f
		m := member{Name: c, Size: int64(f.UncompressedSize64), ModTime: f.Modified, open: func() (io.ReadCloser, error) {
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", z.name, f.Name, err)
			}
			// archive/zip already fails a member that expands past its
			// declared size (ErrFormat) or fails its CRC.
			return rc, nil
		}}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}
