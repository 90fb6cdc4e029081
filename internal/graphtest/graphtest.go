// Package graphtest is a fake Microsoft Graph (OneDrive) server for tests.
// It listens on loopback and enforces what the Graph docs say: a bearer
// token on API calls and none on pre-authenticated upload URLs, upload
// session fragment rules, case-insensitive names, refused characters,
// conflictBehavior, upload sessions only into folders that exist (a
// simple PUT creates the folders it names), small listing pages followed
// through @odata.nextLink,
// and a server-side quickXorHash. Faults (429/503 with Retry-After, 500s,
// answers lost after the work was done) can be injected, requests are
// counted, and tests can change the stored files directly.
package graphtest

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miexit/miexit/internal/quickxorhash"
)

// Limits the fake enforces.
const (
	FragmentUnit   = 320 << 10
	MaxFragment    = 60 << 20
	MaxSimplePut   = 4 << 20
	refusedChars   = `\*<>?:|"`
	defaultToken   = "fake-graph-token"
	defaultAppName = "miexit"
)

// Options configure a Server.
type Options struct {
	Token    string // bearer token accepted (default "fake-graph-token")
	PageSize int    // children per page, whatever $top asks (default 5)
	AppName  string // the app folder is /Apps/<AppName> (default "miexit")
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	conns atomic.Int64 // connections accepted
	opt   Options
	mu    sync.Mutex
	root  *node
	byID  map[string]*node
	sess  map[string]*session
	seq   int
	// driveID is what GET /me/drive answers (DefaultDriveID when empty).
	driveID string

	counts map[string]int
	writes int

	faultRate  float64
	retryAfter string
	rnd        *rand.Rand
	queued     []queuedFault
	kinds      []int // what SetFaults' random faults pick from
}

type queuedFault struct {
	kind  string
	fault int
}

// Faults that FailNext queues.
const (
	Throttle    = 1 // 429 with Retry-After
	Unavailable = 2 // 503 with Retry-After
	ServerError = 3 // 500, nothing done
	LostAnswer  = 4 // the request is carried out, then a 500 is sent
	Reset       = 5 // the connection is closed with no answer, nothing done
	Truncated   = 6 // the request is carried out, the answer is cut short
)

// FailNext makes the next request of kind (a Count name; "" for any)
// fail with fault; calls queue up in order.
func (s *Server) FailNext(kind string, fault int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, queuedFault{kind, fault})
}

type node struct {
	id       string
	name     string
	parent   *node
	folder   bool
	children map[string]*node // by lower-cased name
	data     []byte
	hash     string // quickXorHash of data, kept with it
	created  time.Time
	modified time.Time
	version  int
}

type session struct {
	id       string
	parent   []string // folder path segments
	name     string
	conflict string
	fsi      fsInfo
	data     []byte
	total    int64
	expires  time.Time
}

type fsInfo struct {
	Created  time.Time `json:"createdDateTime,omitzero"`
	Modified time.Time `json:"lastModifiedDateTime,omitzero"`
}

// NewServer starts a fake Graph server; Close stops it.
func NewServer(o Options) *Server {
	if o.Token == "" {
		o.Token = defaultToken
	}
	if o.PageSize <= 0 {
		o.PageSize = 5
	}
	if o.AppName == "" {
		o.AppName = defaultAppName
	}
	s := &Server{
		opt:        o,
		byID:       map[string]*node{},
		sess:       map[string]*session{},
		counts:     map[string]int{},
		rnd:        rand.New(rand.NewPCG(1, 2)),
		retryAfter: "1",
	}
	s.root = s.newNode(nil, "root", true)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	return s
}

// Conns returns how many connections the server has accepted.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Endpoint is the base URL to use instead of https://graph.microsoft.com/v1.0.
func (s *Server) Endpoint() string { return s.srv.URL + "/v1.0" }

// Token is the bearer token the server accepts.
func (s *Server) Token() string { return s.opt.Token }

// SetFaults makes a fraction of requests fail: a 429 or 503 with
// Retry-After (seconds, as a string), a 500, or a 500 sent after the
// request was carried out (an answer lost on the way back).
func (s *Server) SetFaults(rate float64, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultRate, s.retryAfter = rate, retryAfter
}

// SetFaultKinds limits SetFaults' random faults to kinds (Throttle ...
// Truncated); with none given they are Throttle to LostAnswer.
func (s *Server) SetFaultKinds(kinds ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds = kinds
}

// SetSeed makes the random faults follow another sequence.
func (s *Server) SetSeed(seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rnd = rand.New(rand.NewPCG(seed, 2))
}

// SetRetryAfter sets the Retry-After (seconds) sent with 429 and 503.
func (s *Server) SetRetryAfter(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = v
}

// Count returns how many requests of a kind were served: "get", "list",
// "put", "patch", "create-session", "fragment", "session-status",
// "session-delete", "create-folder", "download", "delete", "fault",
// "unauthorized"; "" counts every request.
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == "" {
		n := 0
		for _, v := range s.counts {
			n += v
		}
		return n
	}
	return s.counts[kind]
}

// Counts returns a copy of every counter.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Writes counts the mutations carried out: uploads, fragments, sessions
// created or deleted, folders created, updates and deletes.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Sessions counts the upload sessions still open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sess)
}

// FileInfo describes a stored file for tests.
type FileInfo struct {
	Path         string // from the drive root, with the stored names' case
	Data         []byte
	QuickXorHash string
	Modified     time.Time
	Created      time.Time
	Versions     int
}

// Files lists every stored file, sorted by path.
func (s *Server) Files() []FileInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []FileInfo
	var walk func(n *node, p string)
	walk = func(n *node, p string) {
		for _, c := range n.children {
			cp := p + "/" + c.name
			if c.folder {
				walk(c, cp)
				continue
			}
			out = append(out, c.info(cp))
		}
	}
	walk(s.root, "")
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (n *node) info(p string) FileInfo {
	return FileInfo{Path: p, Data: append([]byte(nil), n.data...), QuickXorHash: n.hash, Modified: n.modified, Created: n.created, Versions: n.version}
}

// File returns the file at p (from the drive root, any case).
func (s *Server) File(p string) (FileInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.lookup(splitPath(p))
	if n == nil || n.folder {
		return FileInfo{}, false
	}
	return n.info(p), true
}

// PutFile stores data at p, creating folders, without counting a write.
func (s *Server) PutFile(p string, data []byte, mod time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	segs := splitPath(p)
	dir := s.mkdirs(segs[:len(segs)-1])
	n := dir.children[strings.ToLower(segs[len(segs)-1])]
	if n == nil {
		n = s.newNode(dir, segs[len(segs)-1], false)
	}
	n.setData(append([]byte(nil), data...))
	n.modified, n.created = mod, mod
}

func (n *node) setData(b []byte) {
	n.data, n.hash = b, qxh(b)
}

// Remove deletes the file or folder at p; it reports whether it existed.
func (s *Server) Remove(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.lookup(splitPath(p))
	if n == nil || n == s.root {
		return false
	}
	s.unlink(n)
	return true
}

// Corrupt flips a byte of the file at p, in place (same name and size).
func (s *Server) Corrupt(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.lookup(splitPath(p))
	if n == nil || n.folder {
		return false
	}
	if len(n.data) == 0 {
		n.setData([]byte{0})
	} else {
		b := append([]byte(nil), n.data...)
		b[len(b)/2] ^= 0xff
		n.setData(b)
	}
	return true
}

func splitPath(p string) []string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

func qxh(b []byte) string {
	h := quickxorhash.New()
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (s *Server) newNode(parent *node, name string, folder bool) *node {
	s.seq++
	n := &node{id: fmt.Sprintf("ITEM%06d", s.seq), name: name, parent: parent, folder: folder}
	if folder {
		n.children = map[string]*node{}
	}
	now := time.Now().UTC().Truncate(time.Second)
	n.created, n.modified = now, now
	s.byID[n.id] = n
	if parent != nil {
		parent.children[strings.ToLower(name)] = n
	}
	return n
}

func (s *Server) unlink(n *node) {
	delete(n.parent.children, strings.ToLower(n.name))
	var drop func(n *node)
	drop = func(n *node) {
		delete(s.byID, n.id)
		for _, c := range n.children {
			drop(c)
		}
	}
	drop(n)
}

func (s *Server) lookup(segs []string) *node {
	n := s.root
	for _, seg := range segs {
		if !n.folder {
			return nil
		}
		n = n.children[strings.ToLower(seg)]
		if n == nil {
			return nil
		}
	}
	return n
}

func (s *Server) mkdirs(segs []string) *node {
	n := s.root
	for _, seg := range segs {
		c := n.children[strings.ToLower(seg)]
		if c == nil {
			c = s.newNode(n, seg, true)
		}
		n = c
	}
	return n
}

func (n *node) path() string {
	if n.parent == nil {
		return ""
	}
	return n.parent.path() + "/" + n.name
}
