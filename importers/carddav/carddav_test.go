package carddav

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/dav"
	"github.com/miexit/miexit/internal/davtest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

var quick = retryQuick()

func cred() dav.Cred { return dav.Cred{User: davtest.User, Password: davtest.Password} }

func newImp(t *testing.T, u string, mod ...func(*Config)) *Importer {
	t.Helper()
	cfg := Config{URL: u, Cred: cred(), Retry: &quick}
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

// TestConformance runs the shared suite against Radicale, the importer
// built as the CLI builds it (scheme, credentials from the environment)
// and given the server's root: discovery finds the user's home and
// creates the "miexit" address book there.
func TestConformance(t *testing.T) {
	srv := davtest.Radicale(t)
	t.Setenv(dav.EnvUser, davtest.User)
	t.Setenv(dav.EnvPassword, davtest.Password)
	t.Setenv("MIEXIT_RETRY_BASE", "1ms")
	bookPath := "/" + davtest.User + "/" + BookName + "/"
	importertest.Run(t, importertest.Harness{
		New: func(t *testing.T) importers.Importer {
			im, err := importers.Open(context.Background(), "carddav:"+srv.URL, importers.Params{ConfigDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return im
		},
		Writes: srv.Writes,
		Delete: func(t *testing.T, r mapping.Remote) {
			res, b := srv.Do(t, http.MethodDelete, bookPath+ResourceName(r.Key), nil, nil)
			if res.StatusCode >= 300 {
				t.Fatalf("delete %s: HTTP %d %s", r.Key, res.StatusCode, b)
			}
		},
		Corrupt: func(t *testing.T, r mapping.Remote) {
			p := bookPath + ResourceName(r.Key)
			res, b := srv.Do(t, http.MethodGet, p, nil, nil)
			if res.StatusCode != 200 {
				t.Fatalf("get %s: HTTP %d", p, res.StatusCode)
			}
			b = bytes.Replace(b, []byte("\nFN:"), []byte("\nFN:Edited "), 1)
			if res, msg := srv.Do(t, http.MethodPut, p, http.Header{"Content-Type": {"text/vcard"}}, b); res.StatusCode >= 300 {
				t.Fatalf("put %s: HTTP %d %s", p, res.StatusCode, msg)
			}
		},
		// As a person deleting every contact in the server's web UI: the
		// address book stays, its cards go.
		Empty: func(t *testing.T) {
			for name := range cards(t, srv, bookPath) {
				if res, b := srv.Do(t, http.MethodDelete, bookPath+name, nil, nil); res.StatusCode >= 300 {
					t.Fatalf("delete %s: HTTP %d %s", name, res.StatusCode, b)
				}
			}
		},
	})
	if res, _ := srv.Do(t, "PROPFIND", bookPath, http.Header{"Depth": {"0"}}, nil); res.StatusCode != http.StatusMultiStatus {
		t.Errorf("discovery did not create %s (PROPFIND: HTTP %d)", bookPath, res.StatusCode)
	}
}

// cards reads every card of the book straight from the server.
func cards(t *testing.T, srv *davtest.Server, bookPath string) map[string]string {
	t.Helper()
	q := `<?xml version="1.0"?><c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><c:address-data/></d:prop></c:addressbook-query>`
	res, b := srv.Do(t, "REPORT", bookPath, http.Header{"Depth": {"1"}}, []byte(q))
	if res.StatusCode != http.StatusMultiStatus {
		t.Fatalf("REPORT %s: HTTP %d %s", bookPath, res.StatusCode, b)
	}
	out := map[string]string{}
	for r, err := range dav.MultiStatus(bytes.NewReader(b)) {
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := r.Props[dav.AddressData]; ok {
			out[r.Href[strings.LastIndex(r.Href, "/")+1:]] = d
		}
	}
	return out
}

// An address book given by URL (made by the test with MKCOL): cards go
// there as 3.0 (Radicale advertises no supported-address-data), photo and
// key kept; a card edited on the server since miexit wrote it is kept and
// the snapshot's version is written next to it, once.
func TestExplicitBookKeepsEditedCard(t *testing.T) {
	srv := davtest.Radicale(t)
	bookPath := "/" + davtest.User + "/contacts/"
	bookURL := srv.MkAddressBook(t, bookPath)
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "x")
	state := t.TempDir()
	led := openLedger(t, state)
	ctx := context.Background()

	im := newImp(t, bookURL)
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if im.Version() != mvcard.V3 || im.Book() != bookURL {
		t.Errorf("version %s book %s; want 3.0 at %s", im.Version(), im.Book(), bookURL)
	}
	got := cards(t, srv, bookPath)
	if len(got) != 3 {
		t.Fatalf("the book holds %d cards, want 3: %v", len(got), got)
	}
	ana := got[ResourceName("test-x-0")]
	for _, want := range []string{"VERSION:3.0", "X-MIEXIT-KEY:test-x-0", "PHOTO;", "/9j/4AAQSkZJRgABAQ==", "UID:urn:miexit:test-x-0"} {
		if !strings.Contains(ana, want) {
			t.Errorf("card lacks %q:\n%s", want, ana)
		}
	}

	// The user edits a card in their address book app.
	p := bookPath + ResourceName("test-x-1")
	edited := strings.Replace(got[ResourceName("test-x-1")], "\nFN:", "\nFN:My Friend ", 1)
	if res, b := srv.Do(t, http.MethodPut, p, http.Header{"Content-Type": {"text/vcard"}}, []byte(edited)); res.StatusCode >= 300 {
		t.Fatalf("edit: HTTP %d %s", res.StatusCode, b)
	}
	before := srv.Writes()
	if err := newImp(t, bookURL).Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Writes() - before; n != 1 {
		t.Errorf("re-run after an edit made %d writes; want 1 (the snapshot's version beside the edited card)", n)
	}
	got = cards(t, srv, bookPath)
	if !strings.Contains(got[ResourceName("test-x-1")], "FN:My Friend") {
		t.Errorf("the edited card was overwritten:\n%s", got[ResourceName("test-x-1")])
	}
	if len(got) != 4 {
		t.Errorf("the book holds %d cards, want 4 (3 + the kept version)", len(got))
	}
	before = srv.Writes()
	if err := newImp(t, bookURL).Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("a third run made %d writes", n)
	}
	res, err := verify.Run(ctx, snap, newImp(t, bookURL), led)
	// The contacts are all there; the snapshot's photos and messages are
	// not, so verify must not pass.
	if err != nil || !res.CheckedOK() || res.OK {
		t.Fatalf("verify: %v %+v", err, res)
	}
	if len(res.Rows) == 0 || res.Rows[0].Kind != mapping.KindContact || res.Rows[0].Destination != 3 || !slices.Contains(res.Unchecked, mapping.KindMedia) {
		t.Errorf("verify rows %+v; want contacts checked, 3 at the destination, media not checked", res.Rows)
	}

	// A run whose ledger was lost (state dir deleted) trusts the cards
	// themselves: nothing is written.
	before = srv.Writes()
	if err := newImp(t, bookURL).Import(ctx, snap, openLedger(t, t.TempDir()), nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("a run with a lost ledger made %d writes", n)
	}
}

// A server said to take vCard 4.0 that refuses it (415): the importer
// falls back to 3.0, and no card is written twice.
func TestRefusesVCard4(t *testing.T) {
	srv := davtest.Radicale(t)
	bookURL := srv.MkAddressBook(t, "/"+davtest.User+"/c4/")
	srv.SetFault(func(r *http.Request) davtest.Fault {
		if r.Method != http.MethodPut {
			return davtest.Fault{}
		}
		b, _ := readBody(r)
		if bytes.Contains(b, []byte("VERSION:4.0")) {
			return davtest.Fault{Status: http.StatusUnsupportedMediaType}
		}
		return davtest.Fault{}
	})
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "v")
	led := openLedger(t, t.TempDir())
	im := newImp(t, bookURL, func(c *Config) { c.Version = mvcard.V4; c.Concurrency = 1 })
	if err := im.Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if im.Version() != mvcard.V3 {
		t.Errorf("version %s after a 415; want 3.0", im.Version())
	}
	puts := map[string]int{}
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "PUT ") {
			puts[r]++
		}
	}
	if len(puts) != 3 {
		t.Errorf("PUTs passed on: %v", puts)
	}
	for r, n := range puts {
		if n != 1 {
			t.Errorf("%s written %d times", r, n)
		}
	}
	if res, err := verify.Run(context.Background(), snap, newImp(t, bookURL), led); err != nil || !res.CheckedOK() {
		t.Fatalf("verify: %v %+v", err, res)
	}

	// Refusing 3.0 as well is a clear error naming the book.
	srv.SetFault(func(r *http.Request) davtest.Fault {
		if r.Method == http.MethodPut {
			return davtest.Fault{Status: http.StatusUnsupportedMediaType}
		}
		return davtest.Fault{}
	})
	other := importertest.Build(t, filepath.Join(t.TempDir(), "o"), "o")
	err := newImp(t, bookURL).Import(context.Background(), other, led, nil)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadInput(t *testing.T) {
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "e")
	ctx := context.Background()
	run := func(t *testing.T, im *Importer) error {
		t.Helper()
		tally := &progress.Tally{}
		err := im.Import(ctx, snap, openLedger(t, t.TempDir()), tally)
		if err == nil {
			t.Fatal("import succeeded")
		}
		if n := tally.Count("import", "", progress.Copied); n != 0 {
			t.Errorf("%d cards copied", n)
		}
		t.Log(err)
		return err
	}
	t.Run("unreachable", func(t *testing.T) {
		u := "http://" + davtest.FreePort(t) + "/dav/"
		err := run(t, newImp(t, u))
		if !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "check the URL") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not an address book", func(t *testing.T) {
		// A plain web server: no DAV at all.
		hs := httptest.NewServer(http.NotFoundHandler())
		defer hs.Close()
		err := run(t, newImp(t, hs.URL+"/photos/"))
		if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "is not an address book") || !strings.Contains(err.Error(), hs.URL+"/photos/") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		srv := davtest.Radicale(t)
		im := newImp(t, srv.URL, func(c *Config) { c.Cred.Password = "wrong" })
		err := run(t, im)
		if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "miexit auth carddav "+srv.URL) || strings.Contains(err.Error(), "wrong") {
			t.Errorf("err = %v", err)
		}
		if srv.Writes() != 0 {
			t.Errorf("%d writes", srv.Writes())
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv(dav.EnvUser, "")
		_, err := importers.Open(ctx, "carddav:https://dav.example.org/", importers.Params{ConfigDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "miexit auth carddav https://dav.example.org/") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestResourceName(t *testing.T) {
	for key, want := range map[string]string{
		"contact-uid-0123abcd": "contact-uid-0123abcd.vcf",
		"test-a-0":             "test-a-0.vcf",
	} {
		if got := ResourceName(key); got != want {
			t.Errorf("ResourceName(%q) = %q", key, got)
		}
	}
	for _, key := range []string{"a/b", "../x", ".hidden", "é", strings.Repeat("k", 200)} {
		got := ResourceName(key)
		if !strings.HasPrefix(got, "miexit-") || strings.ContainsAny(got, "/é") || got != ResourceName(key) {
			t.Errorf("ResourceName(%q) = %q", key, got)
		}
	}
	if ResourceName("a/b") == ResourceName("a/c") {
		t.Error("two keys share a name")
	}
}

// An addressbook-home-set on another host, as iCloud answers (an absolute
// URL on pNN-contacts.icloud.com): discovery goes there. A front server
// answers for Radicale and turns the home set into an absolute URL on the
// counting proxy; every card must be written through that proxy.
func TestHomeSetOnAnotherHost(t *testing.T) {
	srv := davtest.Radicale(t)
	direct, _ := url.Parse(srv.Direct)
	rp := httputil.NewSingleHostReverseProxy(direct)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		r.Header.Del("Accept-Encoding") // a body to rewrite, not gzip
	}
	rp.ModifyResponse = func(res *http.Response) error {
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		home := "<href>/" + davtest.User + "/</href></CR:addressbook-home-set>"
		b = bytes.ReplaceAll(b, []byte(home), []byte("<href>"+srv.URL+davtest.User+"/</href></CR:addressbook-home-set>"))
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	var frontWrites atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == "MKCOL" {
			frontWrites.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "h")
	im := newImp(t, front.URL+"/")
	if err := im.Import(context.Background(), snap, openLedger(t, t.TempDir()), nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(im.Book(), srv.URL) {
		t.Errorf("book %s, want one under the home set's host %s", im.Book(), srv.URL)
	}
	if frontWrites.Load() != 0 || srv.Writes() != 4 {
		t.Errorf("writes: %d through the front, %d through the home set's host (want 0 and 1 MKCOL + 3 PUTs)", frontWrites.Load(), srv.Writes())
	}
}
