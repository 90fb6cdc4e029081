package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/importers/dropbox"
	"github.com/miexit/miexit/importers/google"
	"github.com/miexit/miexit/importers/onedrive"
	_ "github.com/miexit/miexit/importers/webdav"
	"github.com/miexit/miexit/internal/dav"
	"github.com/miexit/miexit/internal/davtest"
	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/graphtest"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// handoff is a source whose export adds each photo only once the
// destination holds the one before it (or a deadline passes): it can
// only finish quickly if migrate imports while the export goes on.
type handoff struct {
	has   func(rel string) bool // whether the destination holds a snapshot path; nil not to wait
	files []string
	late  []string // photos the destination did not have in time
}

var (
	handoffMu   sync.Mutex
	handoffNext *handoff
)

func init() {
	exporters.Register("handoff", func(ctx context.Context, p exporters.Params) (exporters.Exporter, error) {
		handoffMu.Lock()
		defer handoffMu.Unlock()
		return handoffNext, nil
	})
}

func (h *handoff) Name() string { return "handoff" }

func (h *handoff) Inventory(ctx context.Context) (mapping.Counts, error) {
	return mapping.Counts{Media: len(h.files)}, nil
}

func (h *handoff) Export(ctx context.Context, w *snapshot.Writer) error {
	taken := time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, name := range h.files {
		if i > 0 && h.has != nil && !h.arrived(ctx, snapshot.MediaDir+"/"+h.files[i-1]) {
			h.late = append(h.late, h.files[i-1])
		}
		b := []byte(fmt.Sprintf("photo %d of the handoff source", i))
		err := w.AddMedia(ctx, mapping.Media{Path: name, Size: int64(len(b)), ModTime: taken, Taken: taken}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		if err != nil {
			return err
		}
	}
	return w.AddMessage(ctx, mapping.Message{Type: "sms", Box: 1, Address: "+8613800000000", Date: taken, Body: "hi"})
}

// arrived waits for rel at the destination; the deadline is far beyond
// what a copy takes, so that it fails only when nothing is copying
// during the export.
func (h *handoff) arrived(ctx context.Context, rel string) bool {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if h.has(rel) {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// events counts each item's import events.
type events struct {
	mu   sync.Mutex
	seen map[string][]progress.Action
}

func (ev *events) Report(e progress.Event) {
	if e.Phase != "import" {
		return
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.seen[e.Item] = append(ev.seen[e.Item], e.Action)
}

func TestMigrateImportsEachPhotoWhileTheExportGoesOn(t *testing.T) {
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	has := func(rel string) bool {
		_, err := os.Stat(filepath.Join(dest, rel))
		return err == nil
	}
	migrateWhileExporting(t, "dir:"+dest, filepath.Join(tmp, "state"), has)
}

// Through the Go client against the fake Drive: uploads start during the
// export, each photo is uploaded once and reported once.
func TestMigrateUploadsEachPhotoToDriveWhileTheExportGoesOn(t *testing.T) {
	srv := googletest.New()
	t.Cleanup(srv.Close)
	t.Setenv(google.EnvEndpoint, srv.URL)
	t.Setenv(google.EnvToken, srv.Token)
	has := func(rel string) bool {
		for _, f := range srv.Files() {
			if strings.HasSuffix(f.Path, "/"+rel) {
				return true
			}
		}
		return false
	}
	files := migrateWhileExporting(t, "google", t.TempDir(), has)
	var held []string
	for _, f := range srv.Files() {
		held = append(held, f.Path)
	}
	eachOnce(t, "Drive", files, held, func(held, photo string) bool {
		return strings.HasSuffix(held, "/"+snapshot.MediaDir+"/"+photo)
	})
}

// eachOnce checks that the destination where holds each photo once:
// held lists its files, is says whether a held file is that photo.
func eachOnce(t *testing.T, where string, photos, held []string, is func(held, photo string) bool) {
	t.Helper()
	for _, f := range photos {
		n := 0
		for _, h := range held {
			if is(h, f) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s is in %s %d times, want once", f, where, n)
		}
	}
}

// under says whether held is the photo's file under the folder dir, in
// any letter case (Dropbox and OneDrive fold case).
func under(dir string) func(held, photo string) bool {
	return func(held, photo string) bool {
		return strings.EqualFold(held, dir+"/"+snapshot.MediaDir+"/"+photo)
	}
}

// Through the real rclone WebDAV server: uploads start during the
// export, each photo is reported once, and a re-run uploads nothing.
func TestMigrateUploadsEachPhotoToWebDAVWhileTheExportGoesOn(t *testing.T) {
	srv := davtest.Rclone(t)
	t.Setenv(dav.EnvUser, davtest.User)
	t.Setenv(dav.EnvPassword, davtest.Password)
	has := func(rel string) bool {
		_, err := os.Stat(filepath.Join(srv.Dir, "backup", "phone", filepath.FromSlash(rel)))
		return err == nil
	}
	n0 := srv.Writes()
	migrateWhileExporting(t, "webdav:"+srv.URL+"backup/phone", t.TempDir(), has)
	if srv.Writes() == n0 {
		t.Fatal("nothing was written to the server")
	}
}

// Through the real SDK against the fake Dropbox: each photo's upload
// starts during the export (small files are committed in batches, the
// last when the export ends), each photo lands once and is reported
// once, and a re-run uploads nothing.
func TestMigrateUploadsEachPhotoToDropboxWhileTheExportGoesOn(t *testing.T) {
	const token = "stream-test-token"
	srv := dropboxtest.New(t, token)
	t.Setenv(dropbox.EnvEndpoint, srv.URL)
	t.Setenv(dropbox.EnvToken, token)
	// Uploaded means its session has started: the commit waits for a
	// batch.
	sent := map[string]int{"media/DCIM/a.jpg": 1, "media/DCIM/b.jpg": 2, "media/DCIM/c.jpg": 3, "media/DCIM/d.jpg": 4}
	has := func(rel string) bool { return srv.Count(dropboxtest.RouteStart) >= sent[rel] }
	files := migrateWhileExporting(t, "dropbox:/Backup", t.TempDir(), has)
	var held []string
	for _, f := range srv.Files() {
		held = append(held, f.Path)
	}
	eachOnce(t, "Dropbox", files, held, under("/Backup"))
}

// Through the Graph client against the fake OneDrive: uploads start
// during the export, each photo lands once and is reported once.
func TestMigrateUploadsEachPhotoToOneDriveWhileTheExportGoesOn(t *testing.T) {
	fake := graphtest.NewServer(graphtest.Options{PageSize: 5})
	t.Cleanup(fake.Close)
	t.Setenv(onedrive.EnvEndpoint, fake.Endpoint())
	t.Setenv(onedrive.EnvToken, fake.Token())
	has := func(rel string) bool {
		_, ok := fake.File("/Backup/" + rel)
		return ok
	}
	files := migrateWhileExporting(t, "onedrive:/Backup", t.TempDir(), has)
	var held []string
	for _, f := range fake.Files() {
		held = append(held, f.Path)
	}
	eachOnce(t, "OneDrive", files, held, under("/Backup"))
}

// migrateWhileExporting migrates the handoff source to dst twice and
// checks that the first run imported during the export and each run
// reported each photo once. It returns the photos' paths.
func migrateWhileExporting(t *testing.T, dst, state string, has func(string) bool) []string {
	t.Helper()
	h := &handoff{has: has, files: []string{"DCIM/a.jpg", "DCIM/b.jpg", "DCIM/c.jpg", "DCIM/d.jpg"}}
	handoffMu.Lock()
	handoffNext = h
	handoffMu.Unlock()
	o := pipeline.Options{StateDir: state, ConfigDir: filepath.Join(state, "config")}

	for _, run := range []struct {
		name string
		want progress.Action
	}{{"first run", progress.Copied}, {"re-run", progress.Unchanged}} {
		h.late = nil
		ev := &events{seen: map[string][]progress.Action{}}
		o.Progress = ev
		res, err := pipeline.Migrate(context.Background(), "handoff:x", dst, "", o)
		if err != nil {
			t.Fatalf("%s: %v", run.name, err)
		}
		if !res.Verify.OK {
			t.Fatalf("%s: verify found gaps: %+v", run.name, res.Verify.Problems)
		}
		if len(h.late) > 0 {
			t.Errorf("%s: the export added the next photo only after %v had waited 20 s for the destination: nothing was imported during the export", run.name, h.late)
		}
		// Each photo is reported once, by the stream or by the import
		// after it, never by both.
		for _, f := range h.files {
			item := snapshot.MediaDir + "/" + f
			if got := ev.seen[item]; len(got) != 1 || got[0] != run.want {
				t.Errorf("%s: %s was reported %v, want once %s", run.name, item, got, run.want)
			}
		}
	}
	return h.files
}

// A file the stream cannot write stops it; the import after the export
// meets the same file and fails naming it, and no error is lost.
func TestAStreamThatFailsLeavesTheErrorToTheImport(t *testing.T) {
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	blocker := filepath.Join(dest, snapshot.MediaDir, "DCIM", "b.jpg")
	if err := os.MkdirAll(blocker, 0o755); err != nil { // a folder where a photo goes
		t.Fatal(err)
	}
	h := &handoff{files: []string{"DCIM/a.jpg", "DCIM/b.jpg", "DCIM/c.jpg"}}
	handoffMu.Lock()
	handoffNext = h
	handoffMu.Unlock()
	_, err := pipeline.Migrate(context.Background(), "handoff:x", "dir:"+dest, "", pipeline.Options{StateDir: filepath.Join(tmp, "state")})
	if err == nil || !strings.Contains(err.Error(), blocker) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want one naming %s", err, blocker)
	}
	if st, err := os.Stat(blocker); err != nil || !st.IsDir() {
		t.Errorf("the folder in the photo's place was touched: %v", err)
	}
}
