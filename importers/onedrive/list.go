package onedrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/miexit/miexit/internal/graph"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// walk lists the folder rel (relative to the destination folder) and
// everything under it, calling fn with each file's remote relative path.
// A folder that does not exist holds nothing.
func (im *Importer) walk(ctx context.Context, rel string, fn func(rel string, it graph.Item) error) error {
	return im.walkSkip(ctx, rel, nil, fn)
}

// walkSkip is walk that does not enter the folders skip names.
func (im *Importer) walkSkip(ctx context.Context, rel string, skip func(rel string) bool, fn func(rel string, it graph.Item) error) error {
	for it, err := range im.c.Children(ctx, im.root, im.remotePath(rel)) {
		if graph.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		p := join(rel, it.Name)
		if it.Folder != nil {
			if skip != nil && skip(p) {
				continue
			}
			if err := im.walkSkip(ctx, p, skip, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(p, it); err != nil {
			return err
		}
	}
	return nil
}

// listAll maps every file under the destination folder by its lower-cased
// remote path, since OneDrive matches names without case.
func (im *Importer) listAll(ctx context.Context) (map[string]graph.Item, error) {
	m := map[string]graph.Item{}
	err := im.walk(ctx, "", func(rel string, it graph.Item) error {
		m[strings.ToLower(rel)] = it
		return nil
	})
	return m, err
}

// List reads what the folder really holds. Whole-file kinds carry the
// quickXorHash in Remote.Hash; record kinds are read from the uploaded
// documents, with each record's sha256.
func (im *Importer) List(ctx context.Context, kind mapping.Kind) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		var doc string
		switch kind {
		case mapping.KindContact:
			doc = snapshot.ContactsPath
		case mapping.KindMessage:
			doc = snapshot.MessagesPath
		case mapping.KindCall:
			doc = snapshot.CallsPath
		}
		if doc != "" {
			im.listRecords(ctx, kind, doc, yield)
			return
		}
		start := ""
		switch kind {
		case mapping.KindMedia:
			start = snapshot.MediaDir
		case mapping.KindNote:
			start = snapshot.NotesDir
		}
		var skip func(string) bool
		if kind == mapping.KindFile {
			// Every file under media/ is media: no need to list it.
			skip = func(rel string) bool { return rel == snapshot.MediaDir }
		}
		stop := errors.New("stop")
		err := im.walkSkip(ctx, start, skip, func(rel string, it graph.Item) error {
			p := decodePath(rel)
			if snapshot.KindOf(p) != kind {
				return nil
			}
			r := mapping.Remote{Kind: kind, Key: p, Path: p, Size: it.Size}
			if it.File != nil {
				r.Hash = it.File.Hashes.QuickXorHash
			}
			if !yield(r, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(mapping.Remote{}, fmt.Errorf("onedrive list %s: %w", kind, err))
		}
	}
}

func (im *Importer) listRecords(ctx context.Context, kind mapping.Kind, doc string, yield func(mapping.Remote, error) bool) {
	var segs []string
	for _, s := range strings.Split(doc, "/") {
		segs = append(segs, encodeName(s))
	}
	body, err := im.c.Download(ctx, im.root, im.remotePath(strings.Join(segs, "/")))
	if graph.IsNotFound(err) {
		return
	}
	if err != nil {
		yield(mapping.Remote{}, fmt.Errorf("onedrive list %s: %w", kind, err))
		return
	}
	defer body.Close()
	for r, err := range snapshot.RemoteRecords(kind, doc, body) {
		if err != nil {
			yield(mapping.Remote{}, fmt.Errorf("onedrive list %s: %w", kind, err))
			return
		}
		if !yield(r, nil) {
			return
		}
	}
	io.Copy(io.Discard, body)
}
