package archive

import (
	"context"
	"path"
	"runtime"
	"strings"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping/media"
)

// aheadWindow is how many members the export may look ahead of the one it
// is adding; their files are hashed meanwhile on other goroutines.
const aheadWindow = 16

// hashAhead hashes a folder's photos and videos on other cores while the
// export adds them one by one, in the folder's order, to the snapshot: the
// snapshot (and its manifest) is exactly what a sequential export writes,
// and linking a file then costs no second read (Writer.AddMediaHashed).
type hashAhead struct {
	ctx     context.Context
	w       *snapshot.Writer
	jobs    chan *pending
	queue   []*pending
	workers int
}

type pending struct {
	m    member
	done chan struct{} // closed when m.hashed is set (or hashing gave up)
}

func newHashAhead(ctx context.Context, w *snapshot.Writer) *hashAhead {
	h := &hashAhead{ctx: ctx, w: w}
	if !w.LinksLocal() {
		return h
	}
	h.workers = min(runtime.GOMAXPROCS(0), 4)
	jobs := make(chan *pending, aheadWindow)
	h.jobs = jobs
	for range h.workers {
		go func() {
			for p := range jobs {
				if h.ctx.Err() == nil {
					// A file that cannot be hashed here is read again,
					// with its error reported, when it is added.
					rel, mod := mediaPath(p.m)
					p.m.hashed, _ = snapshot.HashLocalMedia(h.ctx, p.m.local, rel, mod)
				}
				close(p.done)
			}
		}()
	}
	return h
}

// worth says whether m is likely a photo or video the snapshot will link:
// a local file, not a document the export parses, not known unchanged.
func (h *hashAhead) worth(m member) bool {
	if h.jobs == nil || m.local == "" || m.Size <= 0 {
		return false
	}
	switch path.Ext(strings.ToLower(m.Name)) {
	case ".vcf", ".vcard", ".jsonl", ".md", ".bak", ".zip", ".xml", ".store":
		return false
	}
	if media.IsThumbnailPath("/" + m.Name) {
		return false
	}
	rel, mod := mediaPath(m)
	return !h.w.HasUnchanged(rel, m.Size, mod)
}

// push queues m and adds, through add, every member that fell out of the
// window, in order.
func (h *hashAhead) push(m member, add func(member) error) error {
	p := &pending{m: m}
	if h.worth(m) {
		p.done = make(chan struct{})
		select {
		case h.jobs <- p:
		case <-h.ctx.Done():
			return h.ctx.Err()
		}
	}
	h.queue = append(h.queue, p)
	for len(h.queue) > aheadWindow {
		if err := h.next(add); err != nil {
			return err
		}
	}
	return nil
}

func (h *hashAhead) next(add func(member) error) error {
	p := h.queue[0]
	h.queue = h.queue[1:]
	if p.done != nil {
		<-p.done
	}
	return add(p.m)
}

// flush adds what is still queued, then stops the workers.
func (h *hashAhead) flush(add func(member) error) error {
	var err error
	for len(h.queue) > 0 && err == nil {
		err = h.next(add)
	}
	h.close()
	return err
}

// close stops the workers once they have finished what was queued.
func (h *hashAhead) close() {
	if h.jobs != nil {
		close(h.jobs)
		for _, p := range h.queue {
			if p.done != nil {
				<-p.done
			}
		}
		h.jobs = nil
	}
}
