package onedrive

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/miexit/miexit/internal/graph"
)

// folders makes sure the folders an upload session goes into exist:
// Graph wants a session's parent folder to exist already (a simple PUT
// creates the folders it names, a session does not). Each folder is
// created at most once per run, whatever the number of workers asking, and
// folders known to exist (seen in the destination's listing, or made
// earlier in the run) cost no request, as rclone's directory cache does.
type folders struct {
	im *Importer
	mu sync.Mutex
	// known maps a lower-cased folder path under im.root (OneDrive
	// matches names without case) to the creation that makes it exist.
	known map[string]*folderOnce
}

type folderOnce struct {
	done chan struct{} // closed once err is set
	err  error
}

func newFolders(im *Importer, existing map[string]graph.Item) *folders {
	f := &folders{im: im, known: map[string]*folderOnce{}}
	// A listed file proves every folder above it.
	for rel := range existing {
		for d := path.Dir(im.remotePath(rel)); d != "." && d != "/" && d != ""; d = path.Dir(d) {
			key := strings.ToLower(d)
			if f.known[key] != nil {
				break
			}
			f.known[key] = doneOnce
		}
	}
	return f
}

var doneOnce = func() *folderOnce {
	o := &folderOnce{done: make(chan struct{})}
	close(o.done)
	return o
}()

// parentOf makes the folder holding the file at full (a path under
// im.root) exist.
func (f *folders) parentOf(ctx context.Context, full string) error {
	d := path.Dir(full)
	if d == "." || d == "/" {
		return nil
	}
	return f.ensure(ctx, d)
}

// ensure makes the folder at p (under im.root) and its parents exist.
func (f *folders) ensure(ctx context.Context, p string) error {
	key := strings.ToLower(p)
	f.mu.Lock()
	o := f.known[key]
	if o == nil {
		o = &folderOnce{done: make(chan struct{})}
		f.known[key] = o
		f.mu.Unlock()
		o.err = f.create(ctx, p)
		if o.err != nil {
			// The next upload that needs it tries again.
			f.mu.Lock()
			delete(f.known, key)
			f.mu.Unlock()
		}
		close(o.done)
		return o.err
	}
	f.mu.Unlock()
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *folders) create(ctx context.Context, p string) error {
	parent, name := path.Split(p)
	parent = strings.TrimSuffix(parent, "/")
	if parent != "" {
		if err := f.ensure(ctx, parent); err != nil {
			return err
		}
	}
	// "fail" rather than "replace": replacing a folder would drop what it
	// holds. A 409 is a folder (or a file, which the session then
	// refuses) already there.
	_, err := f.im.c.CreateFolder(ctx, f.im.root, parent, name, graph.Fail)
	if err != nil && !graph.IsConflict(err) {
		return fmt.Errorf("create folder %s on OneDrive (needed before an upload session): %w", f.im.shown(p), err)
	}
	return nil
}

// shown is a path under im.root as a person finds it in OneDrive.
func (im *Importer) shown(p string) string {
	if im.root == graph.AppRoot {
		return "/Apps/miexit/" + p
	}
	return "/" + p
}
