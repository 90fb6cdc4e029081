package micloud

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// fetchFn downloads one media file to a temp file next to dst and returns
// it, ready to read.
type fetchFn func(ctx context.Context, dst string) (io.ReadCloser, error)

type job struct {
	m       mapping.Media
	dst     string
	fetch   fetchFn
	started bool
	done    chan struct{}
	rc      io.ReadCloser
	err     error
	// local is set when the snapshot folder already holds these exact
	// bytes (a run killed before its manifest was written).
	local bool
}

// queue downloads up to n media at once while adding them to the snapshot
// one by one in listing order, so the manifest's order does not depend on
// which download finishes first. Items the previous snapshot already holds
// unchanged are never fetched; nothing is fetched ahead until the writer
// has asked for bytes once (a dry run never does).
type queue struct {
	ctx      context.Context
	cancel   context.CancelFunc
	x        *export
	sem      chan struct{}
	window   int
	pending  []*job
	prefetch bool
}

func newQueue(ctx context.Context, x *export, n int) *queue {
	ctx, cancel := context.WithCancel(ctx)
	return &queue{ctx: ctx, cancel: cancel, x: x, sem: make(chan struct{}, n), window: 2 * n}
}

func (q *queue) add(ctx context.Context, m mapping.Media, fetch fetchFn) error {
	dst, err := fsutil.Join(filepath.Join(q.x.w.Dir(), snapshot.MediaDir), m.Path)
	if err != nil {
		return err
	}
	j := &job{m: m, dst: dst, fetch: fetch, done: make(chan struct{})}
	q.pending = append(q.pending, j)
	if q.prefetch && q.needs(j) {
		q.start(j)
	}
	for len(q.pending) > q.window {
		if err := q.commit(q.pending[0]); err != nil {
			return err
		}
		q.pending = q.pending[1:]
	}
	return nil
}

// needs predicts whether the writer will ask for m's bytes, by the rule
// snapshot.Writer.AddMedia applies: same size and mtime as the previous
// manifest's entry, and the file on disk still matching.
func (q *queue) needs(j *job) bool {
	m := j.m
	rel, err := mapping.CleanRelPath(m.Path)
	if err != nil {
		return false
	}
	prev, ok := q.x.prev[snapshot.MediaDir+"/"+rel]
	if ok && m.Size >= 0 && prev.Size == m.Size && prev.Modified.Equal(m.ModTime.Truncate(time.Second)) {
		st, err := os.Stat(filepath.Join(q.x.w.Dir(), filepath.FromSlash(prev.Path)))
		if err == nil && st.Size() == prev.Size && st.ModTime().Equal(prev.Modified) {
			return false
		}
	}
	if f := localCopy(j.dst, m.Size, m.SHA1); f != nil {
		f.Close()
		j.local = true
		return false
	}
	return true
}

// localCopy opens dst when it already holds the listed bytes (same size and
// sha1), so a file finished by a killed run is not downloaded again.
func localCopy(dst string, size int64, want string) *os.File {
	if want == "" || size < 0 {
		return nil
	}
	f, err := os.Open(dst)
	if err != nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		f.Close()
		return nil
	}
	sum, err := sha1File(f)
	if err != nil || !strings.EqualFold(sum, want) {
		f.Close()
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil
	}
	return f
}

func (q *queue) start(j *job) {
	j.started = true
	go func() {
		defer close(j.done)
		select {
		case q.sem <- struct{}{}:
		case <-q.ctx.Done():
			j.err = q.ctx.Err()
			return
		}
		defer func() { <-q.sem }()
		j.rc, j.err = j.fetch(q.ctx, j.dst)
	}()
}

// commit adds j to the snapshot, waiting for its download if one runs.
func (q *queue) commit(j *job) error {
	opened := false
	open := func(ctx context.Context) (io.ReadCloser, error) {
		opened = true
		if j.started {
			<-j.done
			rc := j.rc
			j.rc = nil
			return rc, j.err
		}
		if j.local || !q.prefetch {
			if f := localCopy(j.dst, j.m.Size, j.m.SHA1); f != nil {
				return f, nil
			}
		}
		select {
		case q.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-q.sem }()
		return j.fetch(ctx, j.dst)
	}
	err := q.x.w.AddMedia(q.ctx, j.m, open)
	if j.started && !opened {
		// Fetched for nothing: the writer kept its copy after all.
		<-j.done
		if j.rc != nil {
			j.rc.Close()
		}
	}
	if opened && !q.prefetch {
		q.prefetch = true
		for _, p := range q.pending {
			if !p.started && p != j && q.needs(p) {
				q.start(p)
			}
		}
	}
	if err != nil {
		if isDeleted(err) {
			q.x.mu.Lock()
			q.x.rep.Deleted = append(q.x.rep.Deleted, j.m.Path)
			q.x.mu.Unlock()
			q.x.w.Skip(mapping.KindMedia, j.m.Path, "Mi Cloud says this file was deleted (code 50050)")
			return nil
		}
		return err
	}
	return nil
}

// finish commits every pending item.
func (q *queue) finish() error {
	defer q.abort()
	for len(q.pending) > 0 {
		j := q.pending[0]
		if err := q.commit(j); err != nil {
			return err
		}
		q.pending = q.pending[1:]
	}
	return nil
}

// abort stops downloads in flight and removes their temp files.
func (q *queue) abort() {
	q.cancel()
	for _, j := range q.pending {
		if j.started {
			<-j.done
			if j.rc != nil {
				j.rc.Close()
			}
		}
	}
	q.pending = nil
}

// previousMedia reads the media entries of the snapshot's current manifest.
func previousMedia(dir string) (map[string]mapping.Entry, error) {
	out := map[string]mapping.Entry{}
	r, err := snapshot.Open(dir)
	if err != nil {
		// No snapshot yet, or an unreadable one: everything is new.
		return out, nil
	}
	for e, err := range r.Entries() {
		if err != nil {
			return map[string]mapping.Entry{}, nil
		}
		if e.Kind == mapping.KindMedia {
			out[e.Path] = e
		}
	}
	return out, nil
}

func sha1File(f *os.File) (string, error) {
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
