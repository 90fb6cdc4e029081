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
	"unicode/utf8"

	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/ordered"
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

// pulled is one media file's outcome, handed to the snapshot in walk order.
type pulled struct {
	it   item
	st   *snapshot.StagedMedia
	skip string // why the phone refused the file, if it did
}

// pullAhead bounds the files pulled but not yet added: enough that small
// files keep every session busy while a large one holds the head of the
// line, and each is only a staged entry in memory.
const pullAhead = 64

// exportMedia pulls up to Parallel files at once, each through its own
// sync session, and adds them to the snapshot in the order of the walk, so
// the manifest is the same whatever Parallel is.
func (e *Exporter) exportMedia(ctx context.Context, w *snapshot.Writer) error {
	pool := &syncPool{dev: e.dev, idle: make(chan *adb.Sync, e.opt.Parallel)}
	defer pool.close()
	return ordered.Run(ctx, ordered.Options{Workers: e.opt.Parallel, Ahead: max(pullAhead, 2*e.opt.Parallel)},
		func(q *ordered.Queue[pulled]) error {
			return e.walkMedia(q.Context(), func(it item) error {
				return q.Go(func(ctx context.Context) (pulled, error) { return e.pull(ctx, w, pool, it) })
			})
		},
		func(p pulled) error {
			if p.skip != "" {
				e.skip(p.it.dev, p.skip)
				return nil
			}
			return w.AddStaged(p.st)
		})
}

// pull copies one file into the snapshot's folder. A file the phone
// refuses is reported and skipped; a broken session is replaced.
func (e *Exporter) pull(ctx context.Context, w *snapshot.Writer, pool *syncPool, it item) (pulled, error) {
	var s *adb.Sync
	open := func(ctx context.Context) (io.ReadCloser, error) {
		var err error
		if s, err = pool.get(ctx); err != nil {
			return nil, err
		}
		rc, err := s.Recv(it.dev)
		if err != nil {
			return nil, err
		}
		return newReadAhead(rc), nil
	}
	st, err := w.StageMedia(ctx, it.Media, open)
	if s != nil {
		// The read-ahead was closed: nothing uses the session any more.
		pool.put(s)
	}
	if err == nil {
		return pulled{it: it, st: st}, nil
	}
	if ctx.Err() != nil {
		return pulled{}, ctx.Err()
	}
	var fe *adb.FailError
	if errors.As(err, &fe) {
		return pulled{it: it, skip: fe.Message}, nil
	}
	return pulled{}, err
}

// syncPool keeps the idle sync sessions, at most one per worker, so each
// pull reuses a session instead of opening one per file.
type syncPool struct {
	dev  *adb.Device
	idle chan *adb.Sync
}

func (p *syncPool) get(ctx context.Context) (*adb.Sync, error) {
	select {
	case s := <-p.idle:
		return s, nil
	default:
		return p.dev.Sync(ctx)
	}
}

func (p *syncPool) put(s *adb.Sync) {
	if s.Err() != nil {
		s.Close()
		return
	}
	select {
	case p.idle <- s:
	default:
		s.Close()
	}
}

func (p *syncPool) close() {
	for {
		select {
		case s := <-p.idle:
			s.Close()
		default:
			return
		}
	}
}
