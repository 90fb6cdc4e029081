package carddav

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/davtest"
	"github.com/miexit/miexit/internal/verify"
)

// Through the proxy in front of Radicale: a full server (507) stops the
// run at once with a clear error; resets (before the server saw a PUT,
// and after it stored the card with the answer lost), 503 and 423 Locked
// are retried; the If-None-Match retry of a card that did land finds it
// and leaves it. A run after them writes nothing, verify passes, and each
// card is in the book once, none kept aside.
func TestFaultsThenRerun(t *testing.T) {
	srv := davtest.Radicale(t)
	bookPath := "/" + davtest.User + "/f/"
	bookURL := srv.MkAddressBook(t, bookPath)
	ctx := context.Background()
	led := openLedger(t, t.TempDir())
	full := importertest.Build(t, filepath.Join(t.TempDir(), "full"), "full")

	srv.SetFault(func(r *http.Request) davtest.Fault {
		if r.Method == http.MethodPut {
			return davtest.Fault{Status: http.StatusInsufficientStorage}
		}
		return davtest.Fault{}
	})
	err := newImp(t, bookURL, func(c *Config) { c.Concurrency = 1 }).Import(ctx, full, led, nil)
	if err == nil || !strings.Contains(err.Error(), "full") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("507: err = %v", err)
	}
	if puts := countPuts(srv); puts != 0 {
		t.Errorf("%d PUTs reached the server past a 507", puts)
	}

	// Every write faulted once, in turn: reset, reset-after, 503, 423.
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "f")
	f, hits := davtest.Transient(1)
	srv.SetFault(f)
	if err := newImp(t, bookURL, func(c *Config) { c.Concurrency = 1 }).Import(ctx, snap, led, nil); err != nil {
		t.Errorf("every fault was temporary, yet the run failed: %v (faults %q)", err, hits())
	}
	for _, want := range []string{"reset PUT", "reset-after PUT", "503 PUT"} {
		if !slices.ContainsFunc(hits(), func(h string) bool { return strings.HasPrefix(h, want) }) {
			t.Errorf("no %q among the faults %q", want, hits())
		}
	}
	srv.SetFault(nil)
	before := srv.Writes()
	if err := newImp(t, bookURL).Import(ctx, snap, led, nil); err != nil {
		t.Fatalf("run after the faults: %v", err)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("a run after the faults made %d writes", n)
	}
	res, err := verify.Run(ctx, snap, newImp(t, bookURL), led)
	if err != nil || !res.CheckedOK() {
		t.Fatalf("verify: %v %+v", err, res)
	}
	got := cards(t, srv, bookPath)
	if len(got) != 3 {
		t.Errorf("the book holds %d cards, want 3 (each once): %v", len(got), keys(got))
	}
	for name := range got {
		if name != ResourceName(strings.TrimSuffix(name, ".vcf")) {
			t.Errorf("a card was kept aside or misnamed: %s", name)
		}
	}
}

func countPuts(srv *davtest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "PUT ") {
			n++
		}
	}
	return n
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A listing cut short (the REPORT verify reads, the PROPFIND import
// reads) is read again whole: verify still sees every card once, and the
// import still writes nothing it need not.
func TestTruncatedListings(t *testing.T) {
	srv := davtest.Radicale(t)
	bookURL := srv.MkAddressBook(t, "/"+davtest.User+"/t/")
	ctx := context.Background()
	led := openLedger(t, t.TempDir())
	snap := importertest.Build(t, filepath.Join(t.TempDir(), "s"), "t")
	if err := newImp(t, bookURL).Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	cut := map[string]bool{}
	srv.SetFault(func(r *http.Request) davtest.Fault {
		if (r.Method == "REPORT" || r.Method == "PROPFIND" && r.Header.Get("Depth") == "1") && !cut[r.Method] {
			cut[r.Method] = true
			return davtest.Fault{Truncate: true}
		}
		return davtest.Fault{}
	})
	before := srv.Writes()
	if err := newImp(t, bookURL).Import(ctx, snap, led, nil); err != nil {
		t.Fatalf("import after a cut listing: %v", err)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("%d writes after a cut listing", n)
	}
	res, err := verify.Run(ctx, snap, newImp(t, bookURL), led)
	if err != nil || !res.CheckedOK() || res.Rows[0].Destination != 3 {
		t.Fatalf("verify after a cut REPORT: %v %+v", err, res)
	}
	if !cut["REPORT"] || !cut["PROPFIND"] {
		t.Errorf("faults injected: %v", cut)
	}
}
