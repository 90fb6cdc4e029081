// Package micloudtest is a fake of the i.mi.com web service and of the
// account login that mints its serviceToken, for tests. It speaks the
// routes and envelopes described in REFERENCE.md ("Mi Cloud web service"):
// the passToken exchange (login URL, 302 to /sts, Set-Cookie serviceToken;
// each of the three steps answers 401 unless it carries the userId,
// passToken and wb_ deviceId cookies),
// serviceTokens that die after a number of requests, paging cursors, the
// three-step gallery download (storage URL, JSONP, POST meta), the note-file
// redirect to a storage host that wants the cookies, deleted items (code
// 50050), second verification and end-to-end encryption refusals, injected
// 503s and connection resets. It counts every request by route.
package micloudtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miexit/miexit/internal/netfault"
)

// Album is one Cloud Album.
type Album struct {
	ID   int64
	Name string
}

// Photo is one Cloud Album item.
type Photo struct {
	ID       int64
	AlbumID  int64
	FileName string
	Type     string // image or video
	MIME     string
	Data     []byte
	// DateTaken and DateModified are unix ms.
	DateTaken, DateModified int64
	// Deleted makes the storage step answer code 50050.
	Deleted bool
}

// Folder is one notes folder.
type Folder struct {
	ID      int64
	Subject string
}

// NoteImage is one file attached to a note; nil Data makes the storage
// host answer 404 (an attachment lost on the server).
type NoteImage struct {
	FileID string
	MIME   string
	Data   []byte
}

// Note is one Mi Note.
type Note struct {
	ID       int64
	FolderID int64
	Title    string
	Content  string // Xiaomi's markup
	Created  int64
	Modified int64
	Images   []NoteImage
}

// Recording is one recorder or call recording.
type Recording struct {
	ID      int64
	Name    string // as the service lists it: base.ext_<n>_<type>_<id>_<ms>
	Data    []byte
	Created int64
}

// Contact is one contact; Content is the JSON object the service returns.
type Contact struct {
	ID         string
	Content    map[string]any
	UpdateTime int64
}

// Group is one contact group.
type Group struct {
	ID    string
	Title string
}

// Thread is one SMS thread as the thread list shows it.
type Thread struct {
	ID         int64
	Recipients string
	Snippet    string
	LocalTime  int64
	Total      int
}

// Data is what the account holds.
type Data struct {
	Albums     []Album
	Photos     []Photo
	Folders    []Folder
	Notes      []Note
	Recordings []Recording
	Contacts   []Contact
	Groups     []Group
	Threads    []Thread
}

// Options shape the fake's behaviour.
type Options struct {
	UserID    string
	PassToken string
	// TokenLife is how many data requests one serviceToken serves before
	// the service answers 401; 0 means forever.
	TokenLife int
	// FailRate is the fraction of requests answered 503; ResetRate the
	// fraction whose connection is dropped; TruncateRate the fraction
	// served with the answer cut short (a Content-Length larger than the
	// bytes sent). Seed makes them repeatable.
	FailRate, ResetRate, TruncateRate float64
	Seed                              uint64
	// SecondValidation makes every data call demand an interactive check.
	SecondValidation bool
	// Encrypted makes the account one with end-to-end encryption.
	Encrypted bool
	// Replace answers a data route (by URL path) with this raw body
	// instead, once the session is checked: a service that changed shape.
	Replace map[string]string
	// AccountHost is the host name the login URL gives for the account
	// server (default 127.0.0.1, the API's). "localhost" makes it a host
	// that is not the web app's nor Xiaomi's, where no passToken may go.
	AccountHost string
	// PageCap serves at most this many rows per page of every list,
	// whatever limit was asked: a server with its own cap (or a busy
	// shard) handing back short pages in the middle of a list. Lists with
	// a last-page flag or a cursor stay consistent with it; the recordings
	// and SMS thread lists have neither, so a short page is all a client
	// sees. 0 means no cap.
	PageCap int
	// RepeatPages makes the recordings and SMS thread lists ignore their
	// offset and cursor and serve the first page every time: a service
	// whose paging broke, which must not make a client loop.
	RepeatPages bool
	// Latency delays every answer by this long before the handler runs:
	// the round trip to a real data centre, so downloads at once show.
	Latency time.Duration
	// DownloadTime is how long each file POST takes to serve its bytes
	// (a large file's transfer), counted as a download in flight.
	DownloadTime time.Duration
}

// Request is one request as the fake received it: the host it was
// addressed to, the path, and the names of the cookies it carried.
type Request struct {
	Host, Path string
	Cookies    []string
}

// loginCookies are the cookies each of the three login steps must carry,
// as the peer tools send them; without all three a step answers 401.
var loginCookies = []string{"deviceId", "passToken", "userId"}

// Server is the running fake: API is i.mi.com, Account is the account host
// the login URL points at, Storage the download host.
type Server struct {
	API, Account, Storage *httptest.Server

	// The servers' URLs for handlers, set before any serves (Start
	// writes the exported ones while the others already serve).
	apiURL, accountURL, storageURL string

	mu      sync.Mutex
	opt     Options
	data    Data
	rng     *rand.Rand
	tokens  map[string]int // serviceToken -> requests left (-1 forever)
	nTokens int
	counts  map[string]int
	// inflight and maxInflight track downloads served at once; busy and
	// maxBusy every request, its latency included.
	inflight, maxInflight int
	busy, maxBusy         int
	log                   []Request
}

// New starts the fake with data d.
func New(d Data, opt Options) *Server {
	if opt.UserID == "" {
		opt.UserID = "1234567"
	}
	if opt.PassToken == "" {
		opt.PassToken = "V1:pass-token-sample"
	}
	s := &Server{opt: opt, data: d, tokens: map[string]int{}, counts: map[string]int{},
		rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))}
	// Handlers read each other's URLs: all three are set before any serves.
	s.API = httptest.NewUnstartedServer(s.wrap(http.HandlerFunc(s.api)))
	s.Account = httptest.NewUnstartedServer(s.wrap(http.HandlerFunc(s.account)))
	s.Storage = httptest.NewUnstartedServer(s.wrap(http.HandlerFunc(s.storage)))
	s.apiURL = "http://" + s.API.Listener.Addr().String()
	s.accountURL = "http://" + s.Account.Listener.Addr().String()
	if opt.AccountHost != "" {
		_, port, _ := strings.Cut(s.Account.Listener.Addr().String(), ":")
		s.accountURL = "http://" + opt.AccountHost + ":" + port
	}
	s.storageURL = "http://" + s.Storage.Listener.Addr().String()
	s.API.Start()
	s.Account.Start()
	s.Storage.Start()
	return s
}

// Close stops the three servers.
func (s *Server) Close() {
	s.API.Close()
	s.Account.Close()
	s.Storage.Close()
}

// UserID and PassToken are the credentials the fake accepts.
func (s *Server) UserID() string    { return s.opt.UserID }
func (s *Server) PassToken() string { return s.opt.PassToken }

// SetTruncateRate changes the fraction of answers cut short.
func (s *Server) SetTruncateRate(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.TruncateRate = rate
}

// SetFailRate changes the injected 503 and reset rates.
func (s *Server) SetFailRate(fail, reset float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.FailRate, s.opt.ResetRate = fail, reset
}

// EditNote changes a note's text and modification date, as editing it on
// the phone would.
func (s *Server) EditNote(id int64, content string, modified int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.data.Notes {
		if s.data.Notes[i].ID == id {
			s.data.Notes[i].Content, s.data.Notes[i].Modified = content, modified
		}
	}
}

// Count returns how many requests a route received ("login", "sts",
// "albums", "galleries", "storage", "jsonp", "download", "notes", "note",
// "file", "notefile", "recordings", "recstorage", "contacts", "sms") or
// how many answers of a kind were given ("503", "reset", "truncated",
// "401", "login-401").
func (s *Server) Count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// Counts returns a copy of every counter.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// MaxConcurrentDownloads is the most file downloads served at once.
func (s *Server) MaxConcurrentDownloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInflight
}

// MaxConcurrentRequests is the most requests in flight at once, on all
// three hosts, from the moment each arrived (its latency included).
func (s *Server) MaxConcurrentRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxBusy
}

// Requests is the total number of requests received, failed ones included.
func (s *Server) Requests() int { return s.Count("total") }

// Downloads counts requests that moved file bytes: gallery and recording
// POSTs and note files.
func (s *Server) Downloads() int { return s.Count("download") + s.Count("notefile") }

// TokensIssued is how many serviceTokens the sts step has minted.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nTokens
}

// ResetCounts zeroes every counter and forgets the request log.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
	s.log = nil
}

// Log returns every request received so far, in order.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// IsLogin says whether path is one of the three login steps.
func IsLogin(path string) bool {
	return path == "/api/user/login" || path == "/pass/serviceLogin" || path == "/sts"
}

// loginRefused answers 401 unless the request carries every login cookie
// (a wb_ deviceId among them); it reports whether it answered.
func (s *Server) loginRefused(w http.ResponseWriter, r *http.Request) bool {
	for _, name := range loginCookies {
		c, err := r.Cookie(name)
		if err == nil && c.Value != "" && (name != "deviceId" || strings.HasPrefix(c.Value, "wb_")) {
			continue
		}
		s.count("login-401")
		writeJSON(w, http.StatusUnauthorized, map[string]any{"result": "error", "code": 401, "description": "missing cookie " + name})
		return true
	}
	return false
}

func (s *Server) count(route string) {
	s.mu.Lock()
	s.counts[route]++
	s.mu.Unlock()
}

// wrap counts requests and injects failures before any handler runs.
func (s *Server) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for _, c := range r.Cookies() {
			names = append(names, c.Name)
		}
		sort.Strings(names)
		s.mu.Lock()
		s.log = append(s.log, Request{Host: r.Host, Path: r.URL.Path, Cookies: names})
		s.counts["total"]++
		fail := s.opt.FailRate > 0 && s.rng.Float64() < s.opt.FailRate
		reset := !fail && s.opt.ResetRate > 0 && s.rng.Float64() < s.opt.ResetRate
		truncate := !fail && !reset && s.opt.TruncateRate > 0 && s.rng.Float64() < s.opt.TruncateRate
		if truncate {
			s.counts["truncated"]++
		}
		if fail {
			s.counts["503"]++
		}
		if reset {
			s.counts["reset"]++
		}
		latency := s.opt.Latency
		s.busy++
		s.maxBusy = max(s.maxBusy, s.busy)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.busy--
			s.mu.Unlock()
		}()
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		if fail {
			http.Error(w, "Service Temporarily Unavailable", http.StatusServiceUnavailable)
			return
		}
		if reset {
			netfault.Reset(w)
			return
		}
		if truncate {
			rec := netfault.NewRecorder()
			defer rec.Truncate(w)
			w = rec
		}
		// The web app's servers expect a browser.
		if !strings.HasPrefix(r.UserAgent(), "Mozilla/5.0") {
			s.count("bad-agent")
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{"result": "ok", "retriable": false, "code": 0, "description": "成功", "data": data})
}

func apiErr(w http.ResponseWriter, code int, desc string) {
	writeJSON(w, http.StatusOK, map[string]any{"result": "error", "retriable": false, "code": code, "description": desc, "data": map[string]any{}})
}

// account serves the login URL: with the right userId and passToken
// cookies it redirects to /sts on the API host; otherwise it shows the
// sign-in page, as account.xiaomi.com does.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/pass/serviceLogin" {
		http.NotFound(w, r)
		return
	}
	s.count("login")
	if s.loginRefused(w, r) {
		return
	}
	uid, _ := r.Cookie("userId")
	pt, _ := r.Cookie("passToken")
	if uid.Value != s.opt.UserID || pt.Value != s.opt.PassToken {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>Sign in to your Xiaomi Account</body></html>")
		return
	}
	follow := r.URL.Query().Get("callback")
	if follow == "" {
		http.Error(w, "no callback", http.StatusBadRequest)
		return
	}
	sts := follow + "?d=wb_x&ticket=0&pwd=1&p_ts=1&fid=0&p_lm=1&auth=AUTH-TICKET&m=1&nonce=NONCE&_ssign=SIGN"
	http.Redirect(w, r, sts, http.StatusFound)
}

// session checks the cookies of a data request and uses up one request of
// the token's life. It writes the refusal itself and reports false.
func (s *Server) session(w http.ResponseWriter, r *http.Request, status401 bool) bool {
	if r.URL.Query().Get("ts") == "" && r.Host == s.API.Listener.Addr().String() {
		http.Error(w, "missing ts", http.StatusBadRequest)
		return false
	}
	uid, _ := r.Cookie("userId")
	tok, _ := r.Cookie("serviceToken")
	s.mu.Lock()
	valid := uid != nil && uid.Value == s.opt.UserID && tok != nil
	if valid {
		left, known := s.tokens[tok.Value]
		switch {
		case !known || left == 0:
			valid = false
		case left > 0:
			s.tokens[tok.Value] = left - 1
		}
	}
	second := s.opt.SecondValidation
	enc := s.opt.Encrypted
	if !valid || second {
		s.counts["401"]++
	}
	s.mu.Unlock()
	if valid && !second {
		if body, ok := s.opt.Replace[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, body)
			return false
		}
		if enc {
			apiErr(w, 10034, "E2EE: this account uses end-to-end encryption; data is not available on the web")
			return false
		}
		return true
	}
	body := map[string]any{"R": 401, "S": "Err", "D": s.accountURL + "/pass/serviceLogin?sid=i.mi.com", "isSecondValidation": second}
	if status401 {
		writeJSON(w, http.StatusUnauthorized, body)
	} else {
		writeJSON(w, http.StatusOK, body)
	}
	return false
}

func qint(r *http.Request, name string, def int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil {
		return def
	}
	return v
}

// page cuts a slice of n items at offset/limit, serving no more than
// PageCap rows.
func (s *Server) page(n, offset, limit int) (lo, hi int) {
	lo = min(max(offset, 0), n)
	hi = min(lo+s.pageSize(limit), n)
	return lo, hi
}

// pageSize is the rows a page holds when limit were asked.
func (s *Server) pageSize(limit int) int {
	limit = max(limit, 1)
	if s.opt.PageCap > 0 {
		limit = min(limit, s.opt.PageCap)
	}
	return limit
}

// cursor is the offset a cursor-less list serves from: 0 under RepeatPages.
func (s *Server) cursor(off int) int {
	if s.opt.RepeatPages {
		return 0
	}
	return off
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/api/user/login":
		s.count("loginurl")
		if s.loginRefused(w, r) {
			return
		}
		if r.URL.Query().Get("ts") == "" {
			http.Error(w, "missing ts", http.StatusBadRequest)
			return
		}
		cb := s.apiURL + "/sts"
		ok(w, map[string]any{"loginUrl": s.accountURL + "/pass/serviceLogin?sid=i.mi.com&callback=" + url.QueryEscape(cb)})
	case p == "/sts":
		s.count("sts")
		if s.loginRefused(w, r) {
			return
		}
		if r.URL.Query().Get("auth") == "" {
			http.Error(w, "bad ticket", http.StatusForbidden)
			return
		}
		s.mu.Lock()
		s.nTokens++
		tok := fmt.Sprintf("svc-%d-%08x", s.nTokens, s.rng.Uint32())
		life := s.opt.TokenLife
		if life <= 0 {
			life = -1
		}
		s.tokens[tok] = life
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "serviceToken", Value: tok, Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "userId", Value: s.opt.UserID, Path: "/"})
		http.Redirect(w, r, s.apiURL+"/", http.StatusFound)
	case p == "/gallery/user/album/list":
		s.count("albums")
		if !s.session(w, r, true) {
			return
		}
		s.albums(w, r)
	case p == "/gallery/user/galleries":
		s.count("galleries")
		if !s.session(w, r, true) {
			return
		}
		s.galleries(w, r)
	case p == "/gallery/storage":
		s.count("storage")
		if !s.session(w, r, true) {
			return
		}
		id, _ := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
		for _, ph := range s.data.Photos {
			if ph.ID == id {
				if ph.Deleted {
					apiErr(w, 50050, "file deleted")
					return
				}
				ok(w, map[string]any{"url": fmt.Sprintf("%s/jsonp/gallery/%d?callback=dl_img_cb", s.storageURL, id)})
				return
			}
		}
		apiErr(w, 50050, "file not found")
	case p == "/note/full/page/" || p == "/note/full/page":
		s.count("notes")
		if !s.session(w, r, false) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.notes(w, r)
	case strings.HasPrefix(p, "/note/note/"):
		s.count("note")
		if !s.session(w, r, false) {
			return
		}
		id, _ := strconv.ParseInt(strings.Trim(strings.TrimPrefix(p, "/note/note/"), "/"), 10, 64)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, n := range s.data.Notes {
			if n.ID == id {
				ok(w, map[string]any{"entry": map[string]any{"id": strconv.FormatInt(n.ID, 10), "content": n.Content, "modifyDate": n.Modified}})
				return
			}
		}
		apiErr(w, 404, "note not found")
	case p == "/file/full":
		s.count("file")
		if !s.session(w, r, true) {
			return
		}
		fid := r.URL.Query().Get("fileid")
		if r.URL.Query().Get("type") != "note_img" || fid == "" {
			http.Error(w, "bad file request", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, s.storageURL+"/notefile/"+url.PathEscape(fid)+"?sig=x", http.StatusFound)
	case p == "/sfs/ns/recorder/dir/0/list":
		s.count("recordings")
		if !s.session(w, r, true) {
			return
		}
		s.recordings(w, r)
	case strings.HasPrefix(p, "/sfs/ns/recorder/file/"):
		s.count("recstorage")
		if !s.session(w, r, true) {
			return
		}
		parts := strings.Split(strings.TrimPrefix(p, "/sfs/ns/recorder/file/"), "/")
		if len(parts) != 4 || parts[1] != "cb" || !strings.HasPrefix(parts[2], "dl_sfs_cb_") || parts[3] != "storage" {
			http.NotFound(w, r)
			return
		}
		id, _ := strconv.ParseInt(parts[0], 10, 64)
		for _, rec := range s.data.Recordings {
			if rec.ID == id {
				ok(w, map[string]any{"url": fmt.Sprintf("%s/jsonp/recorder/%d?callback=%s", s.storageURL, id, parts[2])})
				return
			}
		}
		apiErr(w, 50050, "file deleted")
	case p == "/contacts/initdata":
		s.count("contacts")
		if !s.session(w, r, false) {
			return
		}
		s.contacts(w, r)
	case p == "/sms/full/thread":
		s.count("sms")
		if !s.session(w, r, false) {
			return
		}
		s.threads(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) albums(w http.ResponseWriter, r *http.Request) {
	num, size := qint(r, "pageNum", 0), s.pageSize(qint(r, "pageSize", 10))
	lo, hi := s.page(len(s.data.Albums), num*size, size)
	var out []map[string]any
	for i, a := range s.data.Albums[lo:hi] {
		n := 0
		for _, ph := range s.data.Photos {
			if ph.AlbumID == a.ID {
				n++
			}
		}
		// Ids arrive as numbers in some answers and strings in others.
		var id any = a.ID
		if i%2 == 1 {
			id = strconv.FormatInt(a.ID, 10)
		}
		out = append(out, map[string]any{"albumId": id, "name": a.Name, "mediaCount": n, "lastUpdateTime": 1700000000000})
	}
	ok(w, map[string]any{"albums": nonNil(out), "isLastPage": hi >= len(s.data.Albums)})
}

func (s *Server) galleries(w http.ResponseWriter, r *http.Request) {
	num, size := qint(r, "pageNum", 0), s.pageSize(qint(r, "pageSize", 10))
	album, _ := strconv.ParseInt(r.URL.Query().Get("albumId"), 10, 64)
	var in []Photo
	for _, ph := range s.data.Photos {
		if ph.AlbumID == album {
			in = append(in, ph)
		}
	}
	lo, hi := s.page(len(in), num*size, size)
	var out []map[string]any
	for _, ph := range in[lo:hi] {
		out = append(out, map[string]any{"id": strconv.FormatInt(ph.ID, 10), "fileName": ph.FileName, "type": ph.Type,
			"mimeType": ph.MIME, "sha1": sha1hex(ph.Data), "size": len(ph.Data), "dateTaken": ph.DateTaken,
			"dateModified": ph.DateModified, "createTime": ph.DateModified, "groupId": album})
	}
	ok(w, map[string]any{"galleries": nonNil(out), "isLastPage": hi >= len(in)})
}

func (s *Server) notes(w http.ResponseWriter, r *http.Request) {
	limit := qint(r, "limit", 200)
	off := 0
	if tag := r.URL.Query().Get("syncTag"); tag != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(tag, "st"))
		if err != nil {
			apiErr(w, 400, "bad syncTag")
			return
		}
		off = v
	}
	lo, hi := s.page(len(s.data.Notes), off, limit)
	var out []map[string]any
	for i, n := range s.data.Notes[lo:hi] {
		var files []map[string]any
		for _, im := range n.Images {
			files = append(files, map[string]any{"fileId": im.FileID, "digest": sha1hex(im.Data), "mimeType": im.MIME})
		}
		extra, _ := json.Marshal(map[string]any{"title": n.Title, "note_content_type": "common"})
		var folder any = n.FolderID
		if i%2 == 0 {
			folder = strconv.FormatInt(n.FolderID, 10)
		}
		out = append(out, map[string]any{"id": n.ID, "folderId": folder, "createDate": n.Created, "modifyDate": n.Modified,
			"subject": "", "snippet": snippet(n.Content), "status": "normal", "setting": map[string]any{"data": nonNil(files)},
			"extraInfo": string(extra), "type": "note"})
	}
	var folders []map[string]any
	for _, f := range s.data.Folders {
		folders = append(folders, map[string]any{"id": strconv.FormatInt(f.ID, 10), "subject": f.Subject, "type": "folder"})
	}
	ok(w, map[string]any{"entries": nonNil(out), "folders": nonNil(folders), "syncTag": fmt.Sprintf("st%d", hi), "lastPage": hi >= len(s.data.Notes)})
}

func snippet(s string) string {
	r := []rune(s)
	return string(r[:min(len(r), 20)])
}

func (s *Server) recordings(w http.ResponseWriter, r *http.Request) {
	lo, hi := s.page(len(s.data.Recordings), s.cursor(qint(r, "offset", 0)), qint(r, "limit", 50))
	var out []map[string]any
	for _, rec := range s.data.Recordings[lo:hi] {
		out = append(out, map[string]any{"id": strconv.FormatInt(rec.ID, 10), "name": rec.Name, "size": len(rec.Data),
			"sha1": sha1hex(rec.Data), "create_time": rec.Created, "type": "file"})
	}
	ok(w, map[string]any{"list": nonNil(out)})
}

func (s *Server) contacts(w http.ResponseWriter, r *http.Request) {
	limit := qint(r, "limit", 400)
	off := qint(r, "syncTag", 0)
	if qint(r, "syncIgnoreTag", 0) != off {
		apiErr(w, 400, "cursor mismatch")
		return
	}
	lo, hi := s.page(len(s.data.Contacts), off, limit)
	content := map[string]any{}
	for _, c := range s.data.Contacts[lo:hi] {
		content[c.ID] = map[string]any{"content": c.Content, "updateTime": c.UpdateTime, "type": "contact"}
	}
	var groups []map[string]any
	for _, g := range s.data.Groups {
		groups = append(groups, map[string]any{"content": map[string]any{"id": g.ID, "title": g.Title}})
	}
	ok(w, map[string]any{"content": content, "group": nonNil(groups), "syncTag": strconv.Itoa(hi), "syncIgnoreTag": strconv.Itoa(hi), "lastPage": hi >= len(s.data.Contacts)})
}

func (s *Server) threads(w http.ResponseWriter, r *http.Request) {
	limit := qint(r, "limit", 100)
	off := s.cursor(qint(r, "syncThreadTag", 0))
	lo, hi := s.page(len(s.data.Threads), off, limit)
	var out []map[string]any
	for _, t := range s.data.Threads[lo:hi] {
		out = append(out, map[string]any{"entry": map[string]any{"threadId": t.ID, "recipients": t.Recipients, "snippet": t.Snippet,
			"localTime": t.LocalTime, "total": t.Total}})
	}
	ok(w, map[string]any{"entries": nonNil(out), "watermark": map[string]any{"syncTag": hi, "syncThreadTag": hi}})
}

// storage serves the JSONP step, the POST of meta and note files.
func (s *Server) storage(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/jsonp/"):
		s.count("jsonp")
		kind, id, _ := strings.Cut(strings.TrimPrefix(p, "/jsonp/"), "/")
		cb := r.URL.Query().Get("callback")
		if cb == "" || r.Method != http.MethodGet {
			http.Error(w, "bad jsonp request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/javascript")
		b, _ := json.Marshal(map[string]any{"url": fmt.Sprintf("%s/file/%s/%s", s.storageURL, kind, id), "meta": "meta-" + kind + "-" + id, "expires": 1})
		fmt.Fprintf(w, "%s(%s);", cb, b)
	case strings.HasPrefix(p, "/file/"):
		s.count("download")
		kind, id, _ := strings.Cut(strings.TrimPrefix(p, "/file/"), "/")
		if r.Method != http.MethodPost {
			http.Error(w, "POST expected", http.StatusMethodNotAllowed)
			return
		}
		s.mu.Lock()
		s.inflight++
		s.maxInflight = max(s.maxInflight, s.inflight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inflight--
			s.mu.Unlock()
		}()
		if r.PostFormValue("meta") != "meta-"+kind+"-"+id {
			http.Error(w, "bad meta", http.StatusForbidden)
			return
		}
		if d := s.opt.DownloadTime; d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		n, _ := strconv.ParseInt(id, 10, 64)
		var data []byte
		found := false
		if kind == "gallery" {
			for _, ph := range s.data.Photos {
				if ph.ID == n {
					data, found = ph.Data, true
				}
			}
		} else {
			for _, rec := range s.data.Recordings {
				if rec.ID == n {
					data, found = rec.Data, true
				}
			}
		}
		if !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	case strings.HasPrefix(p, "/notefile/"):
		s.count("notefile")
		if !s.session(w, r, true) {
			return
		}
		fid, _ := url.PathUnescape(strings.TrimPrefix(p, "/notefile/"))
		for _, n := range s.data.Notes {
			for _, im := range n.Images {
				if im.FileID == fid && im.Data != nil {
					w.Header().Set("Content-Type", im.MIME)
					w.Write(im.Data)
					return
				}
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func nonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

// SortedCounts renders the counters for a test log: "albums=2 ...".
func (s *Server) SortedCounts() string {
	c := s.Counts()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, c[k])
	}
	return strings.TrimSpace(b.String())
}
