// Package dropboxtest is a fake Dropbox API v2 for tests: an httptest
// server on loopback that the real SDK reaches through
// dropbox.Config.URLGenerator (every route is served as
// <URL>/2/<namespace>/<route>).
//
// It behaves as the documented API does for the routes miexit uses: it
// checks the bearer token and that Dropbox-API-Arg is pure-ASCII JSON,
// stores paths case-insensitively (keeping the first casing), computes
// content_hash, checks content_hash arguments, enforces upload session
// offsets and "close" before finish_batch_v2, caps finish_batch_v2 at 1000
// entries, pages list_folder through cursors, and answers errors in
// Dropbox's shape (409 with error_summary and a tagged error union, 429 with
// Retry-After, 401 invalid_access_token). Faults (429, 5xx) can be injected
// per route, requests are counted per route, and tests can change the
// stored files directly.
//
// File contents live in a temporary folder, not in memory, so tests can
// push files of hundreds of megabytes through it.
package dropboxtest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/miexit/miexit/internal/dropboxhash"
	"github.com/miexit/miexit/internal/netfault"
)

// Limits Dropbox documents.
const (
	MaxUploadBytes  = 150 << 20 // files/upload and each session request
	MaxBatchEntries = 1000      // upload_session/finish_batch_v2
)

// Route names as counted by Count.
const (
	RouteUpload      = "files/upload"
	RouteStart       = "files/upload_session/start"
	RouteAppend      = "files/upload_session/append_v2"
	RouteFinish      = "files/upload_session/finish"
	RouteFinishBatch = "files/upload_session/finish_batch_v2"
	RouteList        = "files/list_folder"
	RouteContinue    = "files/list_folder/continue"
	RouteMetadata    = "files/get_metadata"
	RouteDelete      = "files/delete_v2"
	RouteMkdir       = "files/create_folder_v2"
	RouteDownload    = "files/download"
	RouteMove        = "files/move_v2"
)

// File is a stored file as a test sees it.
type File struct {
	Path           string // display path, with the casing it was created with
	ID             string
	Rev            string
	Size           int64
	ContentHash    string
	ClientModified time.Time
	ServerModified time.Time
	blob           *blob
}

// Fault is an error the server answers instead of handling a request.
type Fault struct {
	Route  string // as the Route* constants; "" matches every route
	Status int    // 429, 500, 503...
	// RetryAfter goes into the Retry-After header and, for 429, the body.
	RetryAfter time.Duration
	// Reason is the 429 reason tag: "too_many_requests" (default) or
	// "too_many_write_operations".
	Reason string
	// Times is how many requests fail (default 1).
	Times int
	// PlainBody sends a 429 with a text body instead of the JSON error,
	// as proxies and overloaded front ends do.
	PlainBody bool
	// Reset closes the connection with no answer before anything is done.
	Reset bool
	// Truncate serves the request, then sends its answer cut short: the
	// status and headers, half the body, and a closed connection.
	Truncate bool
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	URL   string
	Token string
	// PageSize bounds list_folder pages when the request gives no limit.
	PageSize int
	// ChildrenFirst lists entries deepest first: Dropbox does not promise
	// to list a folder before what it holds.
	ChildrenFirst bool
	// KeepNoBytes is for benchmarks: uploads are read, sized and hashed
	// (and refused on a content_hash mismatch) as always, but their bytes
	// are not kept, as a real service keeps them on its own machines.
	// Downloading or reading such a file fails.
	KeepNoBytes bool

	srv  *httptest.Server
	blob string

	mu       sync.Mutex
	files    map[string]*File  // by lower-cased path
	folders  map[string]string // lower-cased path -> display path
	sessions map[string]*session
	cursors  map[string][]json.RawMessage
	counts   map[string]int
	writes   int
	faults   []*Fault
	// failEntries makes that many finish_batch_v2 entries fail with
	// failTag (the session stays usable, as with Dropbox).
	failEntries int
	failTag     string
	seq         int
	// accountID is what users/get_current_account answers
	// (DefaultAccountID when empty).
	accountID string
}

type session struct {
	id     string
	b      *blob
	size   int64
	closed bool
	// hash is the content hash of b so far, fed as each chunk lands:
	// hashing the whole file again at finish, under the server's lock,
	// made the fake take one upload at a time.
	hash hash.Hash
	// spoilt: a refused chunk went into hash (KeepNoBytes only).
	spoilt bool
}

// New starts a fake Dropbox accepting token, closed when the test ends.
func New(t testing.TB, token string) *Server {
	s := &Server{
		Token:    token,
		PageSize: 500,
		blob:     t.TempDir(),
		files:    map[string]*File{},
		folders:  map[string]string{},
		sessions: map[string]*session{},
		cursors:  map[string][]json.RawMessage{},
		counts:   map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// URLGenerator sends every SDK call to the fake; use it as
// dropbox.Config.URLGenerator.
func (s *Server) URLGenerator(hostType, namespace, route string) string {
	return s.URL + "/2/" + namespace + "/" + route
}

// Count returns how many requests a route received (faults included).
func (s *Server) Count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// Counts returns the request count of every route.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Writes counts the mutating requests that succeeded: uploads, session
// requests, commits, deletes, folder creations.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Inject queues a fault; faults are used in the order they were added.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Files returns every stored file, sorted by lower-cased path.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for _, f := range s.files {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Path) < strings.ToLower(out[j].Path) })
	return out
}

// Stat returns the file at p (case-insensitive).
func (s *Server) Stat(p string) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[strings.ToLower(p)]
	if !ok {
		return File{}, false
	}
	return *f, true
}

// ReadFile returns the bytes stored at p.
func (s *Server) ReadFile(p string) ([]byte, error) {
	f, ok := s.Stat(p)
	if !ok {
		return nil, os.ErrNotExist
	}
	return f.blob.bytes()
}

// Put stores data at p directly, as if another client had written it.
func (s *Server) Put(p string, data []byte, clientModified time.Time) error {
	b := &blob{}
	if _, err := b.write(s.blob, bytes.NewReader(data)); err != nil {
		return err
	}
	hash, _ := dropboxhash.Hex(bytes.NewReader(data))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(p, b, int64(len(data)), hash, clientModified)
	return nil
}

// Remove deletes the file at p directly.
func (s *Server) Remove(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(p)
	_, ok := s.files[k]
	delete(s.files, k)
	return ok
}

// Corrupt flips the first byte of the file at p in place: same name, same
// size and rev, different content (bit rot, or a tool that kept the rev).
func (s *Server) Corrupt(p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[strings.ToLower(p)]
	if !ok {
		return os.ErrNotExist
	}
	data, err := f.blob.bytes()
	if err != nil {
		return err
	}
	if len(data) == 0 {
		data = []byte{0}
	} else {
		data[0] ^= 0xff
	}
	nb := &blob{}
	if _, err := nb.write(s.blob, bytes.NewReader(data)); err != nil {
		return err
	}
	f.blob = nb
	f.Size = int64(len(data))
	f.ContentHash, _ = dropboxhash.Hex(bytes.NewReader(data))
	return nil
}

// FailBatchEntries makes the next n entries of finish_batch_v2 fail with
// the given UploadSessionFinishError tag, such as
// "too_many_write_operations", leaving their sessions usable.
func (s *Server) FailBatchEntries(n int, tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failEntries, s.failTag = n, tag
}

// ExpireSessions forgets every upload session, as Dropbox does after 7 days.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*session{}
}

// store puts a blob at p, creating parents; s.mu must be held.
func (s *Server) store(p string, blob *blob, size int64, hash string, cm time.Time) *File {
	s.seq++
	now := time.Now().UTC().Truncate(time.Second)
	if cm.IsZero() {
		cm = now
	}
	k := strings.ToLower(p)
	f := s.files[k]
	if f == nil {
		f = &File{Path: s.displayPath(p), ID: fmt.Sprintf("id:%08d", s.seq)}
		s.files[k] = f
	}
	f.Rev = fmt.Sprintf("%015x", s.seq)
	f.Size, f.ContentHash, f.blob = size, hash, blob
	f.ClientModified, f.ServerModified = cm.UTC().Truncate(time.Second), now
	return f
}

// displayPath makes p's parent folders exist and returns p with the casing
// of folders that already exist, as Dropbox keeps the first casing.
func (s *Server) displayPath(p string) string {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	var disp string
	if dir != "" {
		cur := ""
		for _, seg := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
			cur += "/" + seg
			k := strings.ToLower(cur)
			if d, ok := s.folders[k]; ok {
				cur = d
			} else {
				s.folders[k] = cur
			}
		}
		disp = cur
	}
	return disp + "/" + name
}

// ---- HTTP ----

type apiErr struct {
	status  int
	summary string
	body    any // the "error" union
}

func conflict(summary string, union any) *apiErr {
	return &apiErr{status: http.StatusConflict, summary: summary, body: union}
}

func tag(t string, kv ...any) map[string]any {
	m := map[string]any{".tag": t}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimPrefix(r.URL.Path, "/2/")
	s.mu.Lock()
	s.counts[route]++
	fault := s.takeFault(route)
	s.mu.Unlock()

	if r.Method != http.MethodPost {
		http.Error(w, "Dropbox API routes take POST", http.StatusMethodNotAllowed)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+s.Token {
		writeErr(w, &apiErr{status: http.StatusUnauthorized, summary: "invalid_access_token/..", body: tag("invalid_access_token")})
		return
	}
	switch {
	case fault != nil && fault.Reset:
		netfault.Reset(w)
		return
	case fault != nil && fault.Truncate:
		rec := netfault.NewRecorder()
		s.serveRoute(rec, r, route)
		rec.Truncate(w)
		return
	case fault != nil:
		io.Copy(io.Discard, r.Body)
		writeFault(w, fault)
		return
	}
	s.serveRoute(w, r, route)
}

// serveRoute serves a request that passed the token and fault checks.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, route string) {
	var arg json.RawMessage
	if a := r.Header.Get("Dropbox-API-Arg"); a != "" {
		for i := 0; i < len(a); i++ {
			if a[i] >= 0x80 {
				http.Error(w, `Error in call to API function "`+route+`": HTTP header "Dropbox-API-Arg": could not decode input as JSON (non-ASCII byte; escape it as \uXXXX)`, http.StatusBadRequest)
				return
			}
		}
		arg = json.RawMessage(a)
	} else if r.Header.Get("Content-Type") == "application/json" {
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		arg = b
	}
	res, download, aerr := s.handle(route, arg, r.Body)
	if aerr != nil {
		io.Copy(io.Discard, r.Body)
		writeErr(w, aerr)
		return
	}
	if download != nil {
		b, _ := json.Marshal(res)
		w.Header().Set("Dropbox-API-Result", asciiJSON(b))
		w.Header().Set("Content-Type", "application/octet-stream")
		f, err := download.open()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		io.Copy(w, f)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

func (s *Server) takeFault(route string) *Fault {
	for i, f := range s.faults {
		if f.Route == "" || f.Route == route {
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

func writeFault(w http.ResponseWriter, f *Fault) {
	secs := int((f.RetryAfter + time.Second - 1) / time.Second)
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if f.Status == http.StatusTooManyRequests && !f.PlainBody {
		reason := f.Reason
		if reason == "" {
			reason = "too_many_requests"
		}
		writeErr(w, &apiErr{status: f.Status, summary: reason + "/..", body: map[string]any{"reason": tag(reason), "retry_after": secs}})
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(f.Status)
	fmt.Fprintf(w, "%s (injected)", http.StatusText(f.Status))
}

func writeErr(w http.ResponseWriter, e *apiErr) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]any{"error_summary": e.summary, "error": e.body})
}

// asciiJSON escapes non-ASCII as \uXXXX (UTF-16, surrogate pairs beyond the
// BMP), as Dropbox does for headers.
func asciiJSON(b []byte) string {
	var sb strings.Builder
	for _, r := range string(b) {
		if r < 0x80 {
			sb.WriteRune(r)
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&sb, `\u%04x\u%04x`, r1, r2)
			continue
		}
		fmt.Fprintf(&sb, `\u%04x`, r)
	}
	return sb.String()
}

func (s *Server) handle(route string, arg json.RawMessage, body io.Reader) (any, *blob, *apiErr) {
	bad := func(err error) *apiErr {
		return &apiErr{status: http.StatusBadRequest, summary: "Error in call to API function \"" + route + "\": " + err.Error()}
	}
	dec := func(v any) *apiErr {
		if len(arg) == 0 {
			return bad(fmt.Errorf("missing arguments"))
		}
		if err := json.Unmarshal(arg, v); err != nil {
			return bad(fmt.Errorf("could not decode input as JSON: %v", err))
		}
		return nil
	}
	switch route {
	case RouteCurrentAccount:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.currentAccount(), nil, nil
	case RouteUpload:
		var a struct {
			commitArg
			ContentHash string `json:"content_hash"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		blob, size, hash, e := s.receive(body, a.ContentHash, dropboxhash.New())
		if e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		f, e := s.commit(a.commitArg, blob, size, hash)
		if e != nil {
			return nil, nil, conflict("path/"+e.summary, tag("path", "reason", e.body, "upload_session_id", ""))
		}
		s.writes++
		return fileJSON(f), nil, nil

	case RouteStart:
		var a struct {
			Close       bool   `json:"close"`
			ContentHash string `json:"content_hash"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		h := dropboxhash.New()
		blob, size, _, e := s.receive(body, a.ContentHash, h)
		if e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.seq++
		id := fmt.Sprintf("sess-%d", s.seq)
		s.sessions[id] = &session{id: id, b: blob, size: size, closed: a.Close, hash: h}
		s.writes++
		return map[string]string{"session_id": id}, nil, nil

	case RouteAppend:
		var a struct {
			Cursor      cursor `json:"cursor"`
			Close       bool   `json:"close"`
			ContentHash string `json:"content_hash"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		if e := s.appendTo(a.Cursor, body, a.ContentHash, a.Close); e != nil {
			return nil, nil, conflict(e.summary, e.body)
		}
		return nil, nil, nil

	case RouteFinish:
		var a struct {
			Cursor      cursor    `json:"cursor"`
			Commit      commitArg `json:"commit"`
			ContentHash string    `json:"content_hash"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		if e := s.appendTo(a.Cursor, body, a.ContentHash, true); e != nil {
			return nil, nil, conflict("lookup_failed/"+e.summary, tag("lookup_failed", "lookup_failed", e.body))
		}
		a.Cursor.Offset = s.sessionSize(a.Cursor.SessionID)
		s.mu.Lock()
		defer s.mu.Unlock()
		f, e := s.finish(a.Cursor, a.Commit, false)
		if e != nil {
			return nil, nil, conflict(e.summary, e.body)
		}
		s.writes++
		return fileJSON(f), nil, nil

	case RouteFinishBatch:
		var a struct {
			Entries []struct {
				Cursor cursor    `json:"cursor"`
				Commit commitArg `json:"commit"`
			} `json:"entries"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		if len(a.Entries) > MaxBatchEntries {
			return nil, nil, bad(fmt.Errorf("entries: list has %d items, more than %d", len(a.Entries), MaxBatchEntries))
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []any
		for _, en := range a.Entries {
			if s.failEntries > 0 {
				s.failEntries--
				out = append(out, map[string]any{".tag": "failure", "failure": tag(s.failTag)})
				continue
			}
			f, e := s.finish(en.Cursor, en.Commit, true)
			if e != nil {
				out = append(out, map[string]any{".tag": "failure", "failure": e.body})
				continue
			}
			m := fileJSON(f)
			m[".tag"] = "success"
			out = append(out, m)
		}
		s.writes++
		return map[string]any{"entries": out}, nil, nil

	case RouteList:
		var a struct {
			Path      string `json:"path"`
			Recursive bool   `json:"recursive"`
			Limit     int    `json:"limit"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		k := strings.ToLower(strings.TrimSuffix(a.Path, "/"))
		if _, ok := s.folders[k]; k != "" && !ok {
			if _, isFile := s.files[k]; !isFile {
				return nil, nil, conflict("path/not_found/.", tag("path", "path", tag("not_found")))
			}
		}
		// Sorted by path_lower, known here: decoding it back out of each
		// entry in the comparison made this fake's listing cost more than
		// the importer reading it.
		type listed struct {
			lower string
			b     json.RawMessage
		}
		var entries []listed
		for fk, d := range s.folders {
			if under(fk, k, a.Recursive) {
				b, _ := json.Marshal(map[string]any{".tag": "folder", "name": path.Base(d), "path_lower": fk, "path_display": d, "id": "id:dir" + fk})
				entries = append(entries, listed{fk, b})
			}
		}
		for fk, f := range s.files {
			if under(fk, k, a.Recursive) {
				m := fileJSON(f)
				m[".tag"] = "file"
				b, _ := json.Marshal(m)
				entries = append(entries, listed{fk, b})
			}
		}
		// Parents before children, as Dropbox lists them.
		sort.Slice(entries, func(i, j int) bool { return entries[i].lower < entries[j].lower })
		all := make([]json.RawMessage, len(entries))
		for i, e := range entries {
			all[i] = e.b
		}
		if s.ChildrenFirst {
			slices.Reverse(all)
		}
		limit := a.Limit
		if limit <= 0 {
			limit = s.PageSize
		}
		return s.page(all, limit), nil, nil

	case RouteContinue:
		var a struct {
			Cursor string `json:"cursor"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rest, ok := s.cursors[a.Cursor]
		if !ok {
			return nil, nil, conflict("reset/..", tag("reset"))
		}
		delete(s.cursors, a.Cursor)
		return s.page(rest, s.PageSize), nil, nil

	case RouteMetadata:
		var a struct {
			Path string `json:"path"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		k := strings.ToLower(a.Path)
		if f, ok := s.files[k]; ok {
			m := fileJSON(f)
			m[".tag"] = "file"
			return m, nil, nil
		}
		if d, ok := s.folders[k]; ok {
			return map[string]any{".tag": "folder", "name": path.Base(d), "path_lower": k, "path_display": d, "id": "id:dir" + k}, nil, nil
		}
		return nil, nil, conflict("path/not_found/..", tag("path", "path", tag("not_found")))

	case RouteDownload:
		var a struct {
			Path string `json:"path"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		f, ok := s.files[strings.ToLower(a.Path)]
		if !ok {
			return nil, nil, conflict("path/not_found/..", tag("path", "path", tag("not_found")))
		}
		return fileJSON(f), f.blob, nil

	case RouteDelete:
		var a struct {
			Path string `json:"path"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		k := strings.ToLower(a.Path)
		f, ok := s.files[k]
		if !ok {
			return nil, nil, conflict("path_lookup/not_found/..", tag("path_lookup", "path_lookup", tag("not_found")))
		}
		delete(s.files, k)
		s.writes++
		m := fileJSON(f)
		m[".tag"] = "file"
		return map[string]any{"metadata": m}, nil, nil

	case RouteMove:
		var a struct {
			From       string `json:"from_path"`
			To         string `json:"to_path"`
			Autorename bool   `json:"autorename"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		fk := strings.ToLower(a.From)
		f, ok := s.files[fk]
		if !ok {
			return nil, nil, conflict("from_lookup/not_found/..", tag("from_lookup", "from_lookup", tag("not_found")))
		}
		to := a.To
		if _, taken := s.files[strings.ToLower(to)]; taken {
			if !a.Autorename {
				return nil, nil, conflict("to/conflict/file/..", tag("to", "to", tag("conflict", "conflict", tag("file"))))
			}
			ext := path.Ext(a.To)
			for i := 1; ; i++ {
				to = fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(a.To, ext), i, ext)
				if _, taken := s.files[strings.ToLower(to)]; !taken {
					break
				}
			}
		}
		delete(s.files, fk)
		moved := *f
		moved.Path = s.displayPath(to)
		s.files[strings.ToLower(to)] = &moved
		s.writes++
		m := fileJSON(&moved)
		m[".tag"] = "file"
		return map[string]any{"metadata": m}, nil, nil

	case RouteMkdir:
		var a struct {
			Path string `json:"path"`
		}
		if e := dec(&a); e != nil {
			return nil, nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		k := strings.ToLower(a.Path)
		if _, ok := s.folders[k]; ok {
			return nil, nil, conflict("path/conflict/folder/..", tag("path", "path", tag("conflict", "conflict", tag("folder"))))
		}
		if _, ok := s.files[k]; ok {
			return nil, nil, conflict("path/conflict/file/..", tag("path", "path", tag("conflict", "conflict", tag("file"))))
		}
		d := s.displayPath(a.Path + "/x")
		d = strings.TrimSuffix(d, "/x")
		s.writes++
		return map[string]any{"metadata": map[string]any{"name": path.Base(d), "path_lower": k, "path_display": d, "id": "id:dir" + k}}, nil, nil
	}
	return nil, nil, &apiErr{status: http.StatusBadRequest, summary: "Unknown API function: \"" + route + "\""}
}

func under(k, dir string, recursive bool) bool {
	if !strings.HasPrefix(k, dir+"/") {
		return false
	}
	return recursive || !strings.Contains(k[len(dir)+1:], "/")
}

// page returns up to limit entries and keeps the rest behind a cursor;
// s.mu must be held.
func (s *Server) page(all []json.RawMessage, limit int) map[string]any {
	if all == nil {
		all = []json.RawMessage{}
	}
	n := min(limit, len(all))
	res := map[string]any{"entries": all[:n], "has_more": n < len(all), "cursor": ""}
	s.seq++
	c := fmt.Sprintf("cursor-%d", s.seq)
	s.cursors[c] = all[n:]
	res["cursor"] = c
	return res
}

type cursor struct {
	SessionID string `json:"session_id"`
	Offset    int64  `json:"offset"`
}

type commitArg struct {
	Path           string          `json:"path"`
	Mode           json.RawMessage `json:"mode"`
	Autorename     bool            `json:"autorename"`
	ClientModified string          `json:"client_modified"`
	StrictConflict bool            `json:"strict_conflict"`
}

// receive stores a request body as a blob, checking its size and, when
// given, its content_hash, which it computes with h.
func (s *Server) receive(body io.Reader, want string, h hash.Hash) (*blob, int64, string, *apiErr) {
	b := &blob{}
	n, err := s.write(b, io.TeeReader(io.LimitReader(body, MaxUploadBytes+1), h))
	if err != nil {
		return nil, 0, "", &apiErr{status: 400, summary: "reading body: " + err.Error()}
	}
	if n > MaxUploadBytes {
		return nil, 0, "", conflict("payload_too_large/..", tag("payload_too_large"))
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && want != got {
		return nil, 0, "", conflict("content_hash_mismatch/..", tag("content_hash_mismatch"))
	}
	return b, n, got, nil
}

func (s *Server) sessionSize(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.sessions[id]; ss != nil {
		return ss.size
	}
	return 0
}

// appendTo adds body to a session at the cursor's offset. The error it
// returns is an UploadSessionLookupError union.
func (s *Server) appendTo(c cursor, body io.Reader, wantHash string, closeIt bool) *apiErr {
	s.mu.Lock()
	ss := s.sessions[c.SessionID]
	switch {
	case ss == nil:
		s.mu.Unlock()
		return &apiErr{summary: "not_found/..", body: tag("not_found")}
	case ss.spoilt:
		s.mu.Unlock()
		return &apiErr{status: 500, summary: "dropboxtest: a chunk of this session was refused after its bytes went into the session's hash (KeepNoBytes)"}
	case ss.closed:
		s.mu.Unlock()
		// A closed session still accepts an empty finish at its end.
		if n, _ := io.Copy(io.Discard, body); n == 0 && c.Offset == ss.size {
			return nil
		}
		return &apiErr{summary: "closed/..", body: tag("closed")}
	case c.Offset != ss.size:
		s.mu.Unlock()
		return &apiErr{summary: "incorrect_offset/..", body: tag("incorrect_offset", "correct_offset", ss.size)}
	}
	s.mu.Unlock()
	if s.KeepNoBytes {
		// The chunk is not kept to be read again into the session's
		// hash, so it goes into that hash on the way; a chunk then
		// refused (its content_hash) has spoilt the session, which fails
		// every request from then on instead of committing a wrong hash.
		body = io.TeeReader(body, ss.hash)
	}
	b, n, _, e := s.receive(body, wantHash, dropboxhash.New())
	if e != nil {
		if s.KeepNoBytes {
			s.mu.Lock()
			ss.spoilt = true
			s.mu.Unlock()
		}
		return &apiErr{summary: e.summary, body: e.body}
	}
	if !s.KeepNoBytes {
		src, err := b.open()
		if err != nil {
			return &apiErr{summary: err.Error()}
		}
		defer src.Close()
		if _, err := ss.b.write(s.blob, io.TeeReader(src, ss.hash)); err != nil {
			return &apiErr{summary: err.Error()}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.size += n
	if closeIt {
		ss.closed = true
	}
	if n > 0 || closeIt {
		s.writes++
	}
	return nil
}

// finish commits a session; batch requires it to be closed. The error is
// an UploadSessionFinishError union. s.mu must be held.
func (s *Server) finish(c cursor, ca commitArg, batch bool) (*File, *apiErr) {
	ss := s.sessions[c.SessionID]
	lookup := func(t string, kv ...any) *apiErr {
		return &apiErr{summary: "lookup_failed/" + t + "/..", body: tag("lookup_failed", "lookup_failed", tag(t, kv...))}
	}
	switch {
	case ss == nil:
		return nil, lookup("not_found")
	case ss.spoilt:
		return nil, &apiErr{status: 500, summary: "dropboxtest: a chunk of this session was refused after its bytes went into the session's hash (KeepNoBytes)"}
	case batch && !ss.closed:
		return nil, lookup("not_closed")
	case c.Offset != ss.size:
		return nil, lookup("incorrect_offset", "correct_offset", ss.size)
	}
	file, e := s.commit(ca, ss.b, ss.size, hex.EncodeToString(ss.hash.Sum(nil)))
	if e != nil {
		return nil, &apiErr{summary: "path/" + e.summary, body: tag("path", "path", e.body)}
	}
	delete(s.sessions, c.SessionID)
	return file, nil
}

// commit applies Dropbox's write modes. The error is a WriteError union.
// s.mu must be held.
func (s *Server) commit(ca commitArg, blob *blob, size int64, hash string) (*File, *apiErr) {
	if !strings.HasPrefix(ca.Path, "/") || strings.HasSuffix(ca.Path, "/") || strings.Contains(ca.Path, "//") {
		return nil, &apiErr{summary: "malformed_path/..", body: tag("malformed_path", "malformed_path", "")}
	}
	for _, seg := range strings.Split(ca.Path[1:], "/") {
		if refused(seg) {
			return nil, &apiErr{summary: "malformed_path/..", body: tag("malformed_path", "malformed_path", "")}
		}
	}
	// A parent that is a file blocks the write.
	for d := path.Dir(ca.Path); d != "/"; d = path.Dir(d) {
		if _, ok := s.files[strings.ToLower(d)]; ok {
			return nil, &apiErr{summary: "conflict/file/..", body: tag("conflict", "conflict", tag("file"))}
		}
	}
	if _, ok := s.folders[strings.ToLower(ca.Path)]; ok {
		return nil, &apiErr{summary: "conflict/folder/..", body: tag("conflict", "conflict", tag("folder"))}
	}
	var mode struct {
		Tag    string `json:".tag"`
		Update string `json:"update"`
	}
	if len(ca.Mode) > 0 {
		json.Unmarshal(ca.Mode, &mode)
	}
	if mode.Tag == "" {
		mode.Tag = "add"
	}
	var cm time.Time
	if ca.ClientModified != "" {
		t, err := time.Parse("2006-01-02T15:04:05Z", ca.ClientModified)
		if err != nil {
			return nil, &apiErr{summary: "malformed client_modified", body: tag("malformed_path", "malformed_path", "client_modified")}
		}
		cm = t
	}
	cur := s.files[strings.ToLower(ca.Path)]
	if cur != nil {
		same := cur.ContentHash == hash
		switch {
		case mode.Tag == "overwrite":
		case mode.Tag == "update" && mode.Update == cur.Rev:
		case same && !ca.StrictConflict:
			// Dropbox treats re-uploading identical content as a no-op.
			return cur, nil
		case ca.Autorename:
			ext := path.Ext(ca.Path)
			base := strings.TrimSuffix(ca.Path, ext)
			for i := 1; ; i++ {
				p := fmt.Sprintf("%s (%d)%s", base, i, ext)
				if _, taken := s.files[strings.ToLower(p)]; !taken {
					return s.store(p, blob, size, hash, cm), nil
				}
			}
		default:
			return nil, &apiErr{summary: "conflict/file/..", body: tag("conflict", "conflict", tag("file"))}
		}
	}
	return s.store(ca.Path, blob, size, hash, cm), nil
}

// refused reports whether Dropbox rejects a path segment: a backslash,
// DEL or another control character, a trailing space, "." or "..".
func refused(seg string) bool {
	if seg == "" || seg == "." || seg == ".." || strings.HasSuffix(seg, " ") {
		return true
	}
	for _, r := range seg {
		if r == '\\' || r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func fileJSON(f *File) map[string]any {
	return map[string]any{
		"name":            path.Base(f.Path),
		"id":              f.ID,
		"path_lower":      strings.ToLower(f.Path),
		"path_display":    f.Path,
		"rev":             f.Rev,
		"size":            f.Size,
		"content_hash":    f.ContentHash,
		"client_modified": f.ClientModified.UTC().Format("2006-01-02T15:04:05Z"),
		"server_modified": f.ServerModified.UTC().Format("2006-01-02T15:04:05Z"),
		"is_downloadable": true,
	}
}

// blob is stored content: small ones in memory, large ones spilled to a
// file so a test can push hundreds of megabytes through the fake.
type blob struct {
	mem  []byte
	path string
	// dropped: the bytes were not kept (Server.KeepNoBytes).
	dropped bool
}

var errDropped = errors.New("dropboxtest: this file's bytes were not kept (KeepNoBytes)")

// write stores r in b, or with KeepNoBytes only reads it through.
func (s *Server) write(b *blob, r io.Reader) (int64, error) {
	if s.KeepNoBytes {
		b.dropped = true
		return io.Copy(io.Discard, r)
	}
	return b.write(s.blob, r)
}

const memBlob = 1 << 20

var scratchPool = sync.Pool{New: func() any { b := make([]byte, memBlob+1); return &b }}

func (b *blob) open() (io.ReadCloser, error) {
	if b.dropped {
		return nil, errDropped
	}
	if b.path == "" {
		return io.NopCloser(bytes.NewReader(b.mem)), nil
	}
	return os.Open(b.path)
}

func (b *blob) bytes() ([]byte, error) {
	if b.dropped {
		return nil, errDropped
	}
	if b.path == "" {
		return bytes.Clone(b.mem), nil
	}
	return os.ReadFile(b.path)
}

// write appends r to b, moving b to a file in dir once it outgrows memBlob.
func (b *blob) write(dir string, r io.Reader) (int64, error) {
	var n int64
	if b.path == "" {
		// Read into a scratch buffer with room for a whole blob in memory
		// plus one byte: a bytes.Buffer here doubled itself (zeroing and
		// copying) for each upload, and made this fake cost more CPU than
		// the importer it measures.
		room := int64(memBlob - len(b.mem))
		scratch := scratchPool.Get().(*[]byte)
		defer scratchPool.Put(scratch)
		got, err := io.ReadFull(r, (*scratch)[:room+1])
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
		m := int64(got)
		if err != nil {
			return m, err
		}
		buf := (*scratch)[:got]
		if m <= room {
			b.mem = append(b.mem, buf...)
			return m, nil
		}
		f, err := os.CreateTemp(dir, "blob-")
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if _, err := f.Write(b.mem); err != nil {
			return 0, err
		}
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		b.path, b.mem, n = f.Name(), nil, m
		m, err = io.Copy(f, r)
		return n + m, err
	}
	f, err := os.OpenFile(b.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(f, r)
}
