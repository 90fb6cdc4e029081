package webdav

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/davtest"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
)

// Through the proxy in front of rclone: a full server (507) stops the run
// at once with a clear error; resets (before and after the server did the
// work), 503 and 423 Locked on every other write are retried or left for
// the next run; a run after them all finishes, verify passes, and nothing
// is there twice, half-written or kept aside. One worker, so each kind
// of fault meets a PUT and a MOVE the same way every run.
func TestFaultsThenRerun(t *testing.T) {
	srv := davtest.Rclone(t)
	snap := newSnap(t)
	led := openLedger(t, t.TempDir())
	u := srv.URL + "f/"

	puts := 0
	srv.SetFault(func(r *http.Request) davtest.Fault {
		if r.Method == http.MethodPut {
			if puts++; puts >= 4 {
				return davtest.Fault{Status: http.StatusInsufficientStorage}
			}
		}
		return davtest.Fault{}
	})
	err := newImp(t, u, func(c *Config) { c.Concurrency = 1 }).Import(context.Background(), snap, led, nil)
	if err == nil || !strings.Contains(err.Error(), "full") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("507: err = %v", err)
	}
	t.Log(err)

	f, hits := davtest.Transient(2)
	srv.SetFault(f)
	err = newImp(t, u, func(c *Config) { c.Concurrency = 1 }).Import(context.Background(), snap, led, nil)
	t.Logf("run with faults %q: %v", hits(), err)
	if err != nil {
		t.Errorf("every fault was temporary, yet the run failed: %v", err)
	}
	for _, want := range []string{"reset PUT", "reset-after MOVE", "503 ", "423 "} {
		if !slices.ContainsFunc(hits(), func(h string) bool { return strings.HasPrefix(h, want) }) {
			t.Errorf("no %q among the faults %q", want, hits())
		}
	}
	srv.SetFault(nil)
	if err := newImp(t, u).Import(context.Background(), snap, led, nil); err != nil {
		t.Fatalf("run after the faults: %v", err)
	}
	res, err := verify.Run(context.Background(), snap, newImp(t, u), led)
	if err != nil || !res.OK {
		t.Fatalf("verify: %v %+v", err, res)
	}
	before := srv.Writes()
	if err := newImp(t, u).Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("a run after the repair made %d writes", n)
	}
	files := 0
	filepath.WalkDir(filepath.Join(srv.Dir, "f"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		if strings.HasPrefix(d.Name(), PartPrefix) || strings.Contains(d.Name(), "miexit-kept") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
	if want := snapFiles(t, snap); files != want {
		t.Errorf("%d files at the destination, want %d (the snapshot's, once each)", files, want)
	}
}

func newSnap(t *testing.T) *snapshot.Reader {
	return importertest.Build(t, filepath.Join(t.TempDir(), "s"), "f")
}

// snapFiles counts the files a complete copy of snap holds: its files and
// its manifest.
func snapFiles(t *testing.T, snap *snapshot.Reader) int {
	n := 1
	for _, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
