package webdav

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/dav"
	"github.com/miexit/miexit/internal/davtest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

var quick = retryQuick()

func newImp(t *testing.T, u string, mod ...func(*Config)) *Importer {
	t.Helper()
	cfg := Config{URL: u, Cred: dav.Cred{User: davtest.User, Password: davtest.Password}, Retry: &quick}
	for _, m := range mod {
		m(&cfg)
	}
	im, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func openLedger(t *testing.T, dir string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestConformance runs the shared suite against rclone serve webdav, the
// importer built as the CLI builds it, into a folder that does not exist
// yet (two levels: both made with MKCOL).
func TestConformance(t *testing.T) {
	srv := davtest.Rclone(t)
	t.Setenv(dav.EnvUser, davtest.User)
	t.Setenv(dav.EnvPassword, davtest.Password)
	local := func(r mapping.Remote) string {
		return filepath.Join(srv.Dir, "backup", "phone", filepath.FromSlash(r.Path))
	}
	importertest.Run(t, importertest.Harness{
		New: func(t *testing.T) importers.Importer {
			im, err := importers.Open(context.Background(), "webdav:"+srv.URL+"backup/phone", importers.Params{ConfigDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return im
		},
		Writes: srv.Writes,
		Delete: func(t *testing.T, r mapping.Remote) {
			if err := os.Remove(local(r)); err != nil {
				t.Fatal(err)
			}
		},
		Corrupt: func(t *testing.T, r mapping.Remote) {
			b, err := os.ReadFile(local(r))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(local(r), b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		// As rm -r on the NAS: the folder miexit was given stays, empty.
		Empty: func(t *testing.T) {
			root := filepath.Join(srv.Dir, "backup", "phone")
			ents, err := os.ReadDir(root)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
	// Nothing half-written is left under any name.
	filepath.WalkDir(srv.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), PartPrefix) {
			t.Errorf("part file left: %s", p)
		}
		return nil
	})
}

// What rclone's server does with modification times, measured: the
// importer reports it, and the test pins it so a change shows.
func TestMtimeOnRclone(t *testing.T) {
	srv := davtest.Rclone(t)
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "m")
	im := newImp(t, srv.URL+"m/")
	if err := im.Import(context.Background(), snap, openLedger(t, t.TempDir()), nil); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(srv.Dir, "m", "media", "Movies", "resume-m-big.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	held := st.ModTime().Year() == 2024
	t.Logf("rclone %s: mtime set by %q; file mtime %s", "serve webdav", im.MtimeBy(), st.ModTime())
	if held != (im.MtimeBy() != "none") {
		t.Errorf("MtimeBy %q but the file's mtime is %s", im.MtimeBy(), st.ModTime())
	}
}

// A file already at the destination that miexit did not write is moved
// aside, never overwritten; a second run writes nothing.
func TestKeepsForeignFile(t *testing.T) {
	srv := davtest.Rclone(t)
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "k")
	p := filepath.Join(srv.Dir, "k", "media", "DCIM", "Camera", "resume-k-IMG_1.JPG")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("someone else's photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	led := openLedger(t, t.TempDir())
	if err := newImp(t, srv.URL+"k/").Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	kept, err := os.ReadFile(filepath.Join(filepath.Dir(p), "resume-k-IMG_1 (miexit-kept 1).JPG"))
	if err != nil || string(kept) != "someone else's photo" {
		t.Fatalf("kept copy: %q %v", kept, err)
	}
	before := srv.Writes()
	if err := newImp(t, srv.URL+"k/").Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("second run made %d writes", n)
	}
	if res, err := verify.Run(context.Background(), snap, newImp(t, srv.URL+"k/"), led); err != nil || !res.OK {
		t.Fatalf("verify: %v %+v", err, res)
	}
}

func TestBadInput(t *testing.T) {
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "e")
	run := func(t *testing.T, im *Importer) error {
		t.Helper()
		tally := &progress.Tally{}
		err := im.Import(context.Background(), snap, openLedger(t, t.TempDir()), tally)
		if err == nil {
			t.Fatal("import succeeded")
		}
		if n := tally.Count("import", "", progress.Copied); n != 0 {
			t.Errorf("%d files copied", n)
		}
		t.Log(err)
		return err
	}
	t.Run("unreachable", func(t *testing.T) {
		u := "http://" + davtest.FreePort(t) + "/dav/"
		if err := run(t, newImp(t, u)); !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "check the URL") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		srv := davtest.Rclone(t)
		err := run(t, newImp(t, srv.URL, func(c *Config) { c.Cred.Password = "nope" }))
		if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "miexit auth webdav "+srv.URL) || strings.Contains(err.Error(), "nope") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not webdav", func(t *testing.T) {
		srv := davtest.Rclone(t)
		srv.SetFault(func(r *http.Request) davtest.Fault {
			if r.Method == "PROPFIND" {
				return davtest.Fault{Status: http.StatusMethodNotAllowed}
			}
			return davtest.Fault{}
		})
		if err := run(t, newImp(t, srv.URL)); !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "is it a WebDAV folder") {
			t.Errorf("err = %v", err)
		}
	})
}

// Folders cost one request each: with 8 workers racing to the same new
// folders each is made with one MKCOL (the base twice: its first MKCOL
// answers 409 until its parent is made), and verify lists each folder
// once (media and files walk their own parts of the tree, not all of it
// each), those under notes/ twice (notes, and the files beside them).
func TestOneRequestPerFolder(t *testing.T) {
	srv := davtest.Rclone(t)
	snap := newSnap(t)
	led := openLedger(t, t.TempDir())
	u := srv.URL + "a/b/"
	per := func(from int, method string) map[string]int {
		m := map[string]int{}
		for _, r := range srv.Requests()[from:] {
			if m2, p, _ := strings.Cut(r, " "); m2 == method {
				m[p]++
			}
		}
		return m
	}
	if err := newImp(t, u, func(c *Config) { c.Concurrency = 8 }).Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	mk := per(0, "MKCOL")
	if len(mk) < 4 {
		t.Fatalf("only %d folders made: %v", len(mk), mk)
	}
	for p, n := range mk {
		if p == "/a/b/" {
			n--
		}
		if n != 1 {
			t.Errorf("MKCOL %s sent %d times, want once", p, n)
		}
	}
	n0 := len(srv.Requests())
	res, err := verify.RunWritten(context.Background(), snap, newImp(t, u), led)
	if err != nil || !res.OK {
		t.Fatalf("verify: %v %+v", err, res)
	}
	listed := per(n0, "PROPFIND")
	if listed["/a/b/media/"] == 0 {
		t.Fatalf("verify listed no media: %v", listed)
	}
	for p, n := range listed {
		want := 1
		if strings.HasPrefix(p, "/a/b/notes/") {
			want = 2
		}
		if n != want {
			t.Errorf("verify listed %s %d times, want %d", p, n, want)
		}
	}
}
