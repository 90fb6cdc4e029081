// Package davtest starts real DAV servers for tests: Radicale (CardDAV)
// and `rclone serve webdav` (WebDAV), each on a free loopback port with a
// store in a temporary folder, torn down when the test ends. A test that
// finds the server missing skips, except under CI=true, where it fails.
package davtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/netfault"
)

// User and Password are the credentials every server started here accepts.
const (
	User     = "miexit"
	Password = "app-password-1"
)

// Server is a running server behind a counting proxy.
type Server struct {
	// URL is the proxy's root ("http://127.0.0.1:PORT/"): what the code
	// under test talks to.
	URL string
	// Direct is the server's own root, for a test's own changes that
	// must not count as the importer's writes.
	Direct string
	// Dir is the folder the server stores into (Radicale's collection
	// root, the folder rclone serves).
	Dir string
	log *logBuf

	writes atomic.Int64
	mu     sync.Mutex
	fault  func(r *http.Request) Fault
	seen   []string
}

// A Fault is what the proxy does to one request instead of passing it on.
type Fault struct {
	// Status, when not 0, is answered without passing the request on.
	Status int
	// Reset closes the connection without an answer; After, with
	// Reset, passes the request on first (the server did the work, the
	// answer is lost).
	Reset, After bool
	// Truncate passes the request on and sends part of the answer: its
	// full Content-Length, half its body, then closes.
	Truncate bool
}

// SetFault installs f, asked for every request reaching the proxy (nil
// removes it).
func (s *Server) SetFault(f func(r *http.Request) Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Writes counts the requests that change something (PUT, DELETE, MKCOL,
// PROPPATCH, MOVE, COPY) the server answered with success.
func (s *Server) Writes() int { return int(s.writes.Load()) }

// Requests lists "METHOD path" of every request the proxy passed on.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func isWrite(m string) bool {
	switch m {
	case http.MethodPut, http.MethodDelete, "MKCOL", "PROPPATCH", "MOVE", "COPY":
		return true
	}
	return false
}

// proxy puts a counting, fault-injecting reverse proxy in front of direct.
func (s *Server) proxy(t testing.TB) {
	t.Helper()
	target, err := url.Parse(s.Direct)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(res *http.Response) error {
		if isWrite(res.Request.Method) && res.StatusCode < 300 {
			s.writes.Add(1)
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f := s.fault
		s.mu.Unlock()
		var ft Fault
		if f != nil {
			ft = f(r)
		}
		switch {
		case ft.Status != 0:
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, http.StatusText(ft.Status), ft.Status)
			return
		case ft.Reset && !ft.After:
			netfault.Reset(w)
			return
		case ft.Reset:
			rec := netfault.NewRecorder()
			rp.ServeHTTP(rec, r)
			netfault.Reset(w)
			return
		case ft.Truncate:
			rec := netfault.NewRecorder()
			rp.ServeHTTP(rec, r)
			rec.Truncate(w)
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/"
}

// Log is what the server wrote, for a failing test's message.
func (s *Server) Log() string { return s.log.String() }

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; .ci/run installs it (Debian package %s)", tool, tool)
		}
		t.Skipf("%s is not installed (apt-get install %s)", tool, tool)
	}
	return p
}

// FreePort returns a loopback address nothing listens on now.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// start runs cmd until the test ends and waits until addr answers HTTP.
func start(t testing.TB, cmd *exec.Cmd, addr string, lb *logBuf) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = lb, lb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, "http://"+addr+"/", nil)
		res, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			res.Body.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited before answering:\n%s", cmd.Path, lb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within 20 s:\n%s", cmd.Path, addr, lb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Radicale starts Radicale with htpasswd (plain) auth for User/Password,
// owner-only rights and a filesystem store under t.TempDir(). It holds no
// address book: tests create one, or let the importer's discovery do it.
func Radicale(t testing.TB) *Server {
	t.Helper()
	bin := need(t, "radicale")
	dir := t.TempDir()
	addr := FreePort(t)
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte(User+":"+Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "collections")
	cfg := fmt.Sprintf(`[server]
hosts = %s
[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
[rights]
type = owner_only
[storage]
filesystem_folder = %s
[web]
type = none
[logging]
level = warning
`, addr, users, store)
	cfgPath := filepath.Join(dir, "radicale.conf")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	lb := &logBuf{}
	start(t, exec.Command(bin, "--config", cfgPath), addr, lb)
	s := &Server{Direct: "http://" + addr + "/", Dir: store, log: lb}
	s.proxy(t)
	return s
}

// Rclone starts `rclone serve webdav` over a fresh folder, with basic auth
// for User/Password and no rclone config file.
func Rclone(t testing.TB) *Server {
	t.Helper()
	bin := need(t, "rclone")
	dir := t.TempDir()
	root := filepath.Join(dir, "served")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := FreePort(t)
	lb := &logBuf{}
	cmd := exec.Command(bin, "serve", "webdav", root, "--addr", addr, "--user", User, "--pass", Password, "--config", "/dev/null",
		// Tests change the folder behind the server's back; it must see that at once.
		"--dir-cache-time", "0s", "--poll-interval", "0")
	// rclone's cache dir would otherwise land in the real $HOME.
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "RCLONE_CONFIG=/dev/null")
	start(t, cmd, addr, lb)
	s := &Server{Direct: "http://" + addr + "/", Dir: root, log: lb}
	s.proxy(t)
	return s
}

// Do sends one request straight to the server (not through the proxy),
// signed as User, and fails the test on a transport error.
func (s *Server) Do(t testing.TB, method, p string, hdr http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(s.Direct, "/")+p, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.SetBasicAuth(User, Password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// MkAddressBook creates an address book at p (a path such as
// "/miexit/contacts/") with an extended MKCOL, advertising nothing about
// vCard versions (Radicale does not).
func (s *Server) MkAddressBook(t testing.TB, p string) string {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype><d:displayname>test</d:displayname></d:prop></d:set></d:mkcol>`
	res, b := s.Do(t, "MKCOL", p, http.Header{"Content-Type": {"application/xml"}}, []byte(body))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("MKCOL %s: HTTP %d %s", p, res.StatusCode, b)
	}
	return strings.TrimSuffix(s.URL, "/") + p
}

// Transient returns a fault function that hits every nth write request
// (PUT, MOVE, MKCOL, DELETE, PROPPATCH) with one of: a reset before the
// server sees it, a reset after it did the work (the answer lost), 503,
// 423 Locked; in turn. A request is faulted once at most, so a retry of
// it goes through. Hits lists the faults injected ("reset-after MOVE /x").
func Transient(n int) (f func(r *http.Request) Fault, hits func() []string) {
	var mu sync.Mutex
	seen := map[string]bool{}
	count := 0
	var injected []string
	names := []string{"reset", "reset-after", "503", "423"}
	kinds := []Fault{{Reset: true}, {Reset: true, After: true}, {Status: http.StatusServiceUnavailable}, {Status: http.StatusLocked}}
	f = func(r *http.Request) Fault {
		if !isWrite(r.Method) {
			return Fault{}
		}
		mu.Lock()
		defer mu.Unlock()
		id := r.Method + " " + r.URL.Path + " " + r.Header.Get("Destination")
		if seen[id] {
			return Fault{}
		}
		seen[id] = true
		count++
		if count%n != 0 {
			return Fault{}
		}
		i := len(injected) % len(kinds)
		injected = append(injected, names[i]+" "+r.Method+" "+r.URL.Path)
		return kinds[i]
	}
	return f, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), injected...) }
}
