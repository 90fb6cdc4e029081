package adb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
	"github.com/miexit/miexit/mapping/media"
)

const (
	maxDepth   = 32
	maxRelPath = 2800 // under mapping's limit, with room for "media/"
	maxSegment = 200  // bytes of a name we keep; hosts allow 255
)

// item is one media file: where it is on the phone (raw, untrusted) and
// the Media record (with a path safe for the snapshot).
type item struct {
	mapping.Media
	dev string
}

// walkMedia lists the media folders depth first, names sorted, and calls
// fn for each file. Inventory and Export share it, so their counts agree.
func (e *Exporter) walkMedia(ctx context.Context, fn func(item) error) error {
	s, err := e.dev.Sync(ctx)
	if err != nil {
		return err
	}
	defer func() { s.Close() }()
	roots := append([]string(nil), e.opt.MediaDirs...)
	sort.Strings(roots)
	var done []string
	for _, root := range roots {
		root = strings.Trim(root, "/")
		if covered(done, root) || e.excluded(root) {
			continue
		}
		done = append(done, root)
		if err := e.walkDir(ctx, &s, e.opt.Storage+"/"+root, root, 0, fn); err != nil {
			return err
		}
	}
	return nil
}

func covered(roots []string, p string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

func (e *Exporter) excluded(rel string) bool {
	for _, x := range e.opt.Exclude {
		x = strings.Trim(x, "/")
		if strings.EqualFold(rel, x) || strings.HasPrefix(strings.ToLower(rel), strings.ToLower(x)+"/") {
			return true
		}
	}
	return false
}

func (e *Exporter) walkDir(ctx context.Context, s **adb.Sync, dev, rel string, depth int, fn func(item) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if depth > maxDepth {
		e.skip(dev, "folders nested too deep")
		return nil
	}
	var ents []adb.FileInfo
	for fi, err := range (*s).List(dev) {
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var fe *adb.FailError
			if errors.As(err, &fe) || (*s).Err() == nil {
				e.skip(dev, err.Error())
				return nil
			}
			return err
		}
		ents = append(ents, fi)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	for _, fi := range ents {
		devPath := dev + "/" + fi.Name
		name, why := safeName(fi.Name)
		if why != "" {
			e.skip(devPath, why)
			continue
		}
		if skipName(fi.Name, fi.IsDir()) {
			continue
		}
		r := rel + "/" + name
		if len(r) > maxRelPath {
			e.skip(devPath, "path too long to store")
			continue
		}
		if e.excluded(r) {
			continue
		}
		switch {
		case fi.IsDir():
			if err := e.walkDir(ctx, s, devPath, r, depth+1, fn); err != nil {
				return err
			}
		case fi.IsRegular():
			m := mapping.Media{Path: r, Size: fi.Size, ModTime: fi.ModTime}
			m.Thumbnail = isThumbnail(r)
			if err := fn(item{Media: m, dev: devPath}); err != nil {
				return err
			}
		default:
			// Symlinks and devices: following links could loop or leave
			// the storage.
		}
	}
	return nil
}

// skipName leaves out what is not a person's media: MIUI's and Android's
// trash, pending writes, and marker files.
func skipName(name string, dir bool) bool {
	l := strings.ToLower(name)
	if dir {
		return l == ".trashbin" || l == ".trash" || l == ".recycle"
	}
	return l == ".nomedia" || strings.HasPrefix(l, ".trashed-") || strings.HasPrefix(l, ".pending-")
}

func isThumbnail(rel string) bool {
	l := "/" + strings.ToLower(rel)
	return media.IsThumbnailPath(l) || strings.Contains(l, "/.thumbnails/")
}

// safeName turns a device file name into one that is safe on any host and
// stays unique: names that cannot be a real file ("/" or NUL inside, "."
// or "..") are refused; control characters, backslashes, invalid UTF-8
// and over-long names are replaced and tagged with a hash of the original.
func safeName(name string) (string, string) {
	switch {
	case name == "" || name == "." || name == "..":
		return "", "not a file name"
	case strings.ContainsAny(name, "/\x00"):
		return "", "name holds a slash or NUL, which no real file can"
	}
	clean := true
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(name[i:], "\uFFFD"):
			b.WriteByte('_')
			clean = false
		case r < 0x20 || r == 0x7f || r == '\\':
			b.WriteByte('_')
			clean = false
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > maxSegment {
		clean = false
	}
	if clean {
		return name, ""
	}
	sum := sha256.Sum256([]byte(name))
	tag := "~" + hex.EncodeToString(sum[:4])
	ext := path.Ext(out)
	if len(ext) > 16 || !utf8.ValidString(ext) {
		ext = ""
	}
	stem := strings.TrimSuffix(out, ext)
	for len(stem)+len(tag)+len(ext) > maxSegment {
		_, size := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-size]
	}
	return stem + tag + ext, ""
}

func (e *Exporter) exportMedia(ctx context.Context, w *snapshot.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan item, 256)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	setErr := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for range e.opt.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.copier(ctx, w, items); err != nil {
				setErr(err)
			}
		}()
	}
	werr := e.walkMedia(ctx, func(it item) error {
		select {
		case items <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(items)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return werr
}

// copier pulls files through its own sync session. A file the phone
// refuses is reported and skipped; a broken session is replaced.
func (e *Exporter) copier(ctx context.Context, w *snapshot.Writer, items <-chan item) error {
	var s *adb.Sync
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	for it := range items {
		if s != nil && s.Err() != nil {
			s.Close()
			s = nil
		}
		open := func(ctx context.Context) (io.ReadCloser, error) {
			if s == nil {
				var err error
				if s, err = e.dev.Sync(ctx); err != nil {
					return nil, err
				}
			}
			rc, err := s.Recv(it.dev)
			if err != nil {
				return nil, err
			}
			return newReadAhead(rc), nil
		}
		err := w.AddMedia(ctx, it.Media, open)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fe *adb.FailError
		if errors.As(err, &fe) {
			e.skip(it.dev, fe.Message)
			continue
		}
		return err
	}
	return nil
}
