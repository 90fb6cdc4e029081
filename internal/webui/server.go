// Package webui is `miexit ui`: a local web page that does the whole exit
// (source, destination, migrate with live progress, verify, checklist) for
// people who never open a terminal. It calls the same library as the CLI
// (internal/migrate, internal/pipeline, internal/checklist), keeps its job
// in the state dir, and is served from files embedded in the binary.
//
// Security: the server answers only on a loopback address; every request
// needs the random token of the URL the program opened (a cookie after the
// first request); the Host header must be the address it listens on (no DNS
// rebinding) and any Origin must be that same address (no cross-site
// request). Tokens, passwords and cookies a person types go to the config
// dir and are never sent back to the page.
package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/miexit/miexit/internal/statedir"
)

//go:embed assets
var assets embed.FS

// Options configure a Server.
type Options struct {
	// Addr is the host:port the server listens on (a loopback address);
	// requests naming another Host are refused.
	Addr string
	// Token is the secret of the URL the program opens; NewToken makes one.
	Token     string
	StateDir  string // default statedir.State()
	ConfigDir string // default statedir.Config()
	Log       *slog.Logger
	// Concurrency is the number of uploads at once (migrate's --jobs).
	Concurrency int
}

// Server is the page's HTTP handler and its one job.
type Server struct {
	opt     Options
	port    string
	cookie  string
	mux     *http.ServeMux
	jobs    *jobs
	authMu  sync.Mutex
	signins map[string]*signin
}

// NewToken returns a random token for the URL (128 bits, hex).
func NewToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ui token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// IsLoopback reports whether addr (host:port) is a loopback address this
// server may listen on: 127.0.0.0/8, ::1 or localhost.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New returns the server for opt.Addr. The caller serves Handler on a
// listener bound to that address.
func New(opt Options) (*Server, error) {
	if len(opt.Token) < 16 {
		return nil, errors.New("ui: a token of at least 16 characters is needed (webui.NewToken)")
	}
	if !IsLoopback(opt.Addr) {
		return nil, fmt.Errorf("ui: %s is not a loopback address; the page is served only on this computer (use 127.0.0.1:PORT)", opt.Addr)
	}
	if opt.StateDir == "" {
		opt.StateDir = statedir.State()
	}
	if opt.ConfigDir == "" {
		opt.ConfigDir = statedir.Config()
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	_, port, _ := net.SplitHostPort(opt.Addr)
	s := &Server{opt: opt, port: port, cookie: "miexit_ui_" + port, mux: http.NewServeMux(), signins: map[string]*signin{}}
	s.jobs = newJobs(s)
	s.routes()
	return s, nil
}

// URL is the address to open, with the token.
func (s *Server) URL() string { return "http://" + s.opt.Addr + "/?token=" + s.opt.Token }

// Close cancels the running job and sign-ins and waits for the job to
// record where it stopped, so the next run can resume it.
func (s *Server) Close() {
	s.authMu.Lock()
	for _, si := range s.signins {
		si.cancel()
	}
	s.authMu.Unlock()
	s.jobs.close()
}

func (s *Server) routes() {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", files))
	s.mux.HandleFunc("GET /api/state", s.handleState)
	s.mux.HandleFunc("GET /api/devices", s.handleDevices)
	s.mux.HandleFunc("POST /api/inventory", s.handleInventory)
	s.mux.HandleFunc("POST /api/jobs", s.handleStart)
	s.mux.HandleFunc("POST /api/jobs/resume", s.handleResume)
	s.mux.HandleFunc("POST /api/jobs/cancel", s.handleCancel)
	s.mux.HandleFunc("GET /api/events", s.handleEvents)
	s.mux.HandleFunc("GET /api/checklist", s.handleChecklist)
	s.mux.HandleFunc("POST /api/auth/micloud", s.handleMiCloud)
	s.mux.HandleFunc("POST /api/auth/{service}", s.handleSignIn)
	s.mux.HandleFunc("POST /api/auth/dropbox/code", s.handleDropboxCode)
}

// ServeHTTP checks every request (Host, Origin, token) before routing it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Nothing may frame, embed or fetch from elsewhere; thumbnails are data: URIs.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if why := s.refuse(r); why != "" {
		s.opt.Log.Warn("ui: request refused", "method", r.Method, "path", r.URL.Path, "why", why)
		http.Error(w, "miexit: "+why, http.StatusForbidden)
		return
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		// The token leaves the address bar (and the history) for a cookie
		// only this origin's pages send.
		http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.opt.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		if r.Method == http.MethodGet {
			q := r.URL.Query()
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// refuse says why r is refused, or "".
func (s *Server) refuse(r *http.Request) string {
	if !s.ownHost(r.Host) {
		return fmt.Sprintf("this page answers only at %s, not at %q (a page that renamed this address is refused)", s.opt.Addr, r.Host)
	}
	origin := r.Header.Get("Origin")
	if origin != "" && origin != "http://"+r.Host {
		return fmt.Sprintf("requests from %q are refused: only miexit's own page may ask", origin)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return "requests from other sites are refused: only miexit's own page may ask"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && origin == "" {
		return "a change needs the Origin header a browser sends; only miexit's own page may ask"
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		if !s.tokenOK(tok) {
			return "this link's token is not this run's: open the address `miexit ui` printed, or start it again"
		}
		return ""
	}
	c, err := r.Cookie(s.cookie)
	if err != nil || !s.tokenOK(c.Value) {
		return "no valid token: open the address `miexit ui` printed (it holds the token), or start it again"
	}
	return ""
}

func (s *Server) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.opt.Token)) == 1
}

// ownHost accepts the listening address and, for a 127.0.0.1 or ::1
// listener, localhost on the same port; any other name could be an
// attacker's DNS name pointed at 127.0.0.1.
func (s *Server) ownHost(host string) bool {
	if host == s.opt.Addr {
		return true
	}
	h, port, err := net.SplitHostPort(host)
	return err == nil && port == s.port && h == "localhost"
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers an error the page shows as it is.
func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// readJSON decodes a small JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		fail(w, http.StatusUnsupportedMediaType, "send JSON (Content-Type: application/json)")
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "the request is not the JSON expected: "+err.Error())
		return false
	}
	return true
}
