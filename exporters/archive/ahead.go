package archive

import (
	"context"
	"path"
	"runtime"
	"strings"

	"github.com/miexit/miexit/internal/ordered"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping/media"
)

// aheadWindow is how many members the export may look ahead of the one it
// is adding; their files are hashed meanwhile on other goroutines.
const aheadWindow = 16

// addAhead walks the archive on its own goroutine and hashes a folder's
// photos and videos on other cores while add takes the members one by one,
// in the walk's order: the snapshot (and its manifest) is exactly what a
// sequential export writes, and linking a file then costs no second read
// (Writer.AddMediaHashed).
func addAhead(ctx context.Context, w *snapshot.Writer, walk func(fn func(member) error) error, add func(member) error) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	return ordered.Run(ctx, ordered.Options{Workers: workers, Ahead: aheadWindow}, func(q *ordered.Queue[member]) error {
		return walk(func(m member) error {
			if !worthHashing(w, m) {
				return q.Put(m)
			}
			return q.Go(func(ctx context.Context) (member, error) {
				// A file that cannot be hashed here is read again, with
				// its error reported, when it is added.
				rel, mod := mediaPath(m)
				m.hashed, _ = snapshot.HashLocalMedia(ctx, m.local, rel, mod)
				return m, nil
			})
		})
	}, add)
}

// worthHashing says whether m is likely a photo or video the snapshot will
// link: a local file, not a document the export parses, not known
// unchanged.
func worthHashing(w *snapshot.Writer, m member) bool {
	if !w.LinksLocal() || m.local == "" || m.Size <= 0 {
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
	return !w.HasUnchanged(rel, m.Size, mod)
}
