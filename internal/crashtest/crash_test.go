package crashtest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/graphtest"
)

// iterations is how many seeded kills each destination gets;
// MIEXIT_SOAK_ITERATIONS raises it for a soak run.
func iterations(t *testing.T) int {
	n := 20
	if s := os.Getenv("MIEXIT_SOAK_ITERATIONS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("MIEXIT_SOAK_ITERATIONS=%q: want a positive number", s)
		}
		n = v
	}
	return n
}

// A destination as the harness sees it: a fresh one per call, and a
// listing of what it holds that fails the test on duplicates or debris.
type destination struct {
	name string
	// fresh starts a new destination; a fake answers its first requests
	// with the faults given (a folder takes none).
	fresh func(t *testing.T, faults ...fault) (to string, vars []string, list func(t *testing.T, final bool) []string)
}

// fault is a failure a fake gives its next requests: an HTTP status
// (429, 500, 503), or a network fault: "reset" closes the connection
// before anything is done, "truncate" does the work and then cuts the
// answer short (a Content-Length larger than the bytes sent).
// A fault with write set strikes only the destination's upload calls,
// the pick-th of them (modulo how many the destination has).
type fault struct {
	status, times int
	net           string
	write         bool
	pick          int
}

func (f fault) String() string {
	what := strconv.Itoa(f.status)
	if f.net != "" {
		what = f.net
	}
	if f.write {
		what += "@write"
	}
	return fmt.Sprintf("%s×%d", what, f.times)
}

// on is the endpoint a fault strikes: "" for any, else one of writes.
func (f fault) on(writes ...string) string {
	if !f.write {
		return ""
	}
	return writes[f.pick%len(writes)]
}

func (f fault) reason() string {
	if f.status == 429 {
		return "rateLimitExceeded"
	}
	return "backendError"
}

// graphFault is the graphtest fault kind for f.
func (f fault) graphFault() int {
	switch {
	case f.net == "reset":
		return graphtest.Reset
	case f.net == "truncate":
		return graphtest.Truncated
	case f.status == 429:
		return graphtest.Throttle
	case f.status == 503:
		return graphtest.Unavailable
	}
	return graphtest.ServerError
}

// The calls that upload or create something, per fake.
var (
	googleWrites  = []string{googletest.EPUploadMultipart, googletest.EPBatchCreate, googletest.EPFilesCreate, googletest.EPUploadStart, googletest.EPUploadChunk}
	dropboxWrites = []string{dropboxtest.RouteStart, dropboxtest.RouteFinishBatch, dropboxtest.RouteUpload, dropboxtest.RouteMkdir}
	graphWrites   = []string{"put", "create-folder", "patch", "create-session", "fragment"}
)

var destinations = []destination{
	{"dir", func(t *testing.T, _ ...fault) (string, []string, func(*testing.T, bool) []string) {
		root := filepath.Join(t.TempDir(), "dest")
		return "dir:" + root, nil, func(t *testing.T, final bool) []string { return listDir(t, root, final) }
	}},
	{"google", func(t *testing.T, faults ...fault) (string, []string, func(*testing.T, bool) []string) {
		srv := googletest.New()
		t.Cleanup(srv.Close)
		for _, f := range faults {
			srv.Inject(googletest.Fault{Endpoint: f.on(googleWrites...), Status: f.status, Reason: f.reason(), Times: f.times, Reset: f.net == "reset", Truncate: f.net == "truncate"})
		}
		syncWithFake(t, srv.URL)
		vars := []string{"MIEXIT_GOOGLE_ENDPOINT=" + srv.URL, "MIEXIT_GOOGLE_TOKEN=" + srv.Token}
		return "google", vars, func(t *testing.T, _ bool) []string { return listGoogle(t, srv) }
	}},
	{"dropbox", func(t *testing.T, faults ...fault) (string, []string, func(*testing.T, bool) []string) {
		const token = "crashtest-dropbox-token"
		srv := dropboxtest.New(t, token)
		for _, f := range faults {
			// A 429 without Retry-After makes the importer wait 5 s: say 1.
			var after time.Duration
			if f.status == 429 {
				after = time.Second
			}
			srv.Inject(dropboxtest.Fault{Route: f.on(dropboxWrites...), Status: f.status, RetryAfter: after, Times: f.times, Reset: f.net == "reset", Truncate: f.net == "truncate"})
		}
		vars := []string{"MIEXIT_DROPBOX_ENDPOINT=" + srv.URL, "MIEXIT_DROPBOX_TOKEN=" + token}
		return "dropbox:/Backup", vars, func(t *testing.T, _ bool) []string { return listDropbox(t, srv) }
	}},
	{"onedrive", func(t *testing.T, faults ...fault) (string, []string, func(*testing.T, bool) []string) {
		srv := graphtest.NewServer(graphtest.Options{PageSize: 50})
		t.Cleanup(srv.Close)
		for _, f := range faults {
			for range f.times {
				srv.FailNext(f.on(graphWrites...), f.graphFault())
			}
		}
		// Short waits: the fake's 429 and 503 say Retry-After: 0.
		srv.SetRetryAfter("0")
		// Files over 2 KiB go through upload sessions (the sample has
		// none over the real 4 MiB limit), the rest through simple PUTs.
		vars := []string{"MIEXIT_ONEDRIVE_ENDPOINT=" + srv.Endpoint(), "MIEXIT_ONEDRIVE_TOKEN=" + srv.Token(), "MIEXIT_ONEDRIVE_SMALL_MAX=2048"}
		return "onedrive:/Backup", vars, func(t *testing.T, final bool) []string { return listOneDrive(t, srv, final) }
	}},
}

// knownDirTempDebris tolerates a fault found by this harness and not yet
// fixed: a SIGKILL between fsutil.CreateTemp and the rename in
// importers/dir leaves a .miexit-tmp-* file in the destination folder, and
// no later run removes it (the importer only skips such names when it
// lists). Set it to false once the importer sweeps stale temp files.
const knownDirTempDebris = false

// listDir lists a dir destination. Only the final listing (after the
// re-run) must be free of temp files: a killed run leaves them by nature,
// and the next import sweeps them.
func listDir(t *testing.T, root string, final bool) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if p == root && errors.Is(err, fs.ErrNotExist) {
			return fs.SkipAll // killed before the folder was made
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if strings.Contains(d.Name(), "(miexit-kept") {
			t.Errorf("a second copy at the destination: %s", rel)
		}
		if strings.HasPrefix(d.Name(), ".miexit-tmp-") {
			if !final {
				return nil
			}
			if knownDirTempDebris {
				t.Logf("KNOWN FAULT: temp file left at the destination after a kill: %s", rel)
			} else {
				t.Errorf("temp file left at the destination after a kill: %s", rel)
			}
			return nil
		}
		if d.Name() == "manifest.json" {
			// The snapshot index carries export times: a re-run after a
			// kill may rewrite it, so only its presence is compared.
			out = append(out, rel)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out = append(out, rel+" "+hex.EncodeToString(sum[:]))
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", root, err)
	}
	slices.Sort(out)
	return out
}

func listGoogle(t *testing.T, srv *googletest.Server) []string {
	t.Helper()
	var out []string
	seen := map[string]int{}
	for _, f := range srv.Files() {
		if seen[f.Path]++; seen[f.Path] == 2 {
			t.Errorf("two Drive entries at %s", f.Path)
		}
		switch {
		case path.Base(f.Path) == "manifest.json":
			out = append(out, "drive "+f.Path)
		case f.MimeType != googletest.FolderMIME:
			out = append(out, "drive "+f.Path+" "+f.MD5)
		}
	}
	keys := map[string]int{}
	for _, p := range srv.Contacts() {
		key := ""
		for _, cd := range p.ClientData {
			if cd.Key == "miexit.key" {
				key = cd.Value
			}
		}
		if key == "" {
			t.Errorf("contact %s has no miexit.key", p.ResourceName)
			continue
		}
		if keys[key]++; keys[key] == 2 {
			t.Errorf("two contacts with miexit.key %s", key)
		}
		out = append(out, "contact "+key)
	}
	slices.Sort(out)
	return out
}

// conflictCopy matches the names OneDrive gives when it renames on a
// conflict: "IMG_1 1.jpg", "notes 2".
var conflictCopy = regexp.MustCompile(` [0-9]+(\.[^./]*)?$`)

func listOneDrive(t *testing.T, srv *graphtest.Server, final bool) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	files := srv.Files()
	for _, f := range files {
		lower := strings.ToLower(f.Path)
		if seen[lower] {
			t.Errorf("two OneDrive items at %s", f.Path)
		}
		seen[lower] = true
	}
	for _, f := range files {
		if m := conflictCopy.FindStringIndex(f.Path); m != nil {
			orig := f.Path[:m[0]] + conflictCopy.FindStringSubmatch(f.Path)[1]
			if seen[strings.ToLower(orig)] {
				t.Errorf("a conflict copy at OneDrive: %s next to %s", f.Path, orig)
			}
		}
		if path.Base(f.Path) == "manifest.json" {
			out = append(out, f.Path)
			continue
		}
		out = append(out, f.Path+" "+f.QuickXorHash)
	}
	if final {
		// Sessions a killed run opened and never recorded expire at
		// Graph and hold no file; they are reported, not failed.
		if n := srv.Sessions(); n > 0 {
			t.Logf("%d upload sessions left open after the re-run", n)
		}
	}
	slices.Sort(out)
	return out
}

func listDropbox(t *testing.T, srv *dropboxtest.Server) []string {
	t.Helper()
	var out []string
	for _, f := range srv.Files() {
		if strings.Contains(f.Path, "conflicted copy") || strings.Contains(f.Path, "(miexit-kept") {
			t.Errorf("conflicted copy at Dropbox: %s", f.Path)
		}
		if path.Base(f.Path) == "manifest.json" {
			out = append(out, f.Path)
			continue
		}
		out = append(out, f.Path+" "+f.ContentHash)
	}
	slices.Sort(out)
	return out
}

// TestKillAndResume kills `miexit migrate` with SIGKILL after a seeded
// random delay, re-runs it, and checks the destination then holds exactly
// what an uninterrupted run leaves there: nothing lost, nothing twice, no
// partial files, and verify agrees.
func TestKillAndResume(t *testing.T) {
	t.Parallel()
	n := iterations(t)
	for di, d := range destinations {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			want := baseline(t, d)
			killed := 0
			var partial []int
			for i := range n {
				seed := uint64(i)
				r := rand.New(rand.NewPCG(seed, uint64(di)))
				delay := time.Duration(1+r.IntN(150)) * time.Millisecond
				// Every third seed kills right after a seeded number of
				// items were imported, whatever the machine's load.
				imports := 0
				if seed%3 == 2 {
					imports = 1 + r.IntN(len(want)-1)
					delay = time.Duration(r.IntN(3)) * time.Millisecond
				}
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					held, ok := killAndResume(t, d, delay, seed%2 == 1, imports, want)
					if ok {
						killed++
						partial = append(partial, held)
					}
				})
			}
			// Where the kills landed, as items already at the destination
			// out of len(want): a spread shows kills in every phase.
			t.Logf("%s: %d iterations, %d killed mid-run, holding %v of %d items when killed", d.name, n, killed, partial, len(want))
		})
	}
}

// baseline is the listing an uninterrupted migrate leaves.
func baseline(t *testing.T, d destination) []string {
	t.Helper()
	to, vars, list := d.fresh(t)
	e := newEnv(t, vars...)
	if r := e.run(t, "", "migrate", "--from", "archive:"+src, "--to", to, "-q"); r.code != 0 {
		t.Fatalf("uninterrupted migrate exit %d: %s", r.code, r.stderr)
	}
	want := list(t, true)
	if len(want) == 0 {
		t.Fatal("an uninterrupted migrate left nothing at the destination")
	}
	return want
}

// killAndResume reports whether the kill landed before the run ended and
// how many items the destination held then. With imports > 0 the delay
// counts from that many import events.
func killAndResume(t *testing.T, d destination, delay time.Duration, afterFirstEvent bool, imports int, want []string) (int, bool) {
	to, vars, list := d.fresh(t)
	e := newEnv(t, vars...)
	args := []string{"migrate", "--from", "archive:" + src, "--to", to, "--json"}
	c := e.command(args...)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Odd seeds count the delay from miexit's first progress event, so
	// more kills land in the import; even ones from the start, so some
	// land in the export and the snapshot writing.
	lines := bufio.NewScanner(out)
	lines.Buffer(nil, 1<<20)
	switch {
	case imports > 0:
		for seen := 0; seen < imports && lines.Scan(); {
			if strings.Contains(lines.Text(), `"phase":"import"`) {
				seen++
			}
		}
	case afterFirstEvent:
		lines.Scan()
	}
	time.Sleep(delay)
	c.Process.Signal(syscall.SIGKILL)
	for lines.Scan() {
	}
	err = c.Wait()
	killed := err != nil && c.ProcessState.Sys().(syscall.WaitStatus).Signaled()
	if err != nil && !killed {
		t.Fatalf("migrate before the kill (after %v) failed: %v", delay, err)
	}
	held := len(list(t, false))

	if r := e.run(t, "", args...); r.code != 0 {
		t.Fatalf("re-run after a kill at %v: exit %d\n%s", delay, r.code, r.stderr)
	}
	r := e.run(t, "", "verify", "--from", "archive:"+src, "--to", to, "--json")
	if r.code != 0 || summary(t, r.stdout)["ok"] != true {
		t.Fatalf("verify after a kill at %v: exit %d\n%s%s", delay, r.code, r.stdout, r.stderr)
	}
	if got := list(t, true); !slices.Equal(got, want) {
		t.Errorf("after a kill at %v the destination differs from an uninterrupted run:\n%s", delay, diff(want, got))
	}
	return held, killed
}

func diff(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "  missing %s\n", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "  extra   %s\n", g)
		}
	}
	if b.Len() == 0 {
		b.WriteString("  same set, different multiplicity (duplicates)\n")
	}
	return b.String()
}

// syncWithFake makes one request to a fake started in this process.
// googletest.New sets Server.URL after its listener is serving and handlers
// read it; with the client in another process the race detector sees no
// ordering between the two, and a request from this goroutine provides it.
func syncWithFake(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatalf("reach the fake: %v", err)
	}
	resp.Body.Close()
}
