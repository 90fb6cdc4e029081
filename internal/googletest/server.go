// Package googletest is a loopback fake of the Google People v1 and Drive v3
// endpoints miexit uses, for tests that drive the real google.golang.org/api
// clients (point them at it with option.WithEndpoint: People at URL+"/",
// Drive at URL+"/drive/v3/"). It behaves as the documented APIs do where
// miexit depends on it: bearer tokens, the 200-contact batch limit, rejected
// concurrent mutates, the resumable upload protocol, server-side checksums,
// `q` queries and paging, and injectable faults.
package googletest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/people/v1"

	"github.com/miexit/miexit/internal/netfault"
)

// Endpoint names used by counters and faults.
const (
	EPBatchCreate     = "people.batchCreateContacts"
	EPConnections     = "people.connections.list"
	EPUpdatePhoto     = "people.updateContactPhoto"
	EPUpdateContact   = "people.updateContact"
	EPDeleteContact   = "people.deleteContact"
	EPGroupsList      = "contactGroups.list"
	EPGroupsCreate    = "contactGroups.create"
	EPMembersModify   = "contactGroups.members.modify"
	EPFilesList       = "drive.files.list"
	EPFilesCreate     = "drive.files.create"
	EPFilesGet        = "drive.files.get"
	EPFilesDownload   = "drive.files.download"
	EPFilesUpdate     = "drive.files.update"
	EPFilesDelete     = "drive.files.delete"
	EPUploadMultipart = "drive.upload.multipart"
	EPUploadStart     = "drive.upload.resumable"
	EPUploadChunk     = "drive.upload.chunk"
)

// writeEndpoints are the calls that change the account.
var writeEndpoints = map[string]bool{
	EPBatchCreate: true, EPUpdatePhoto: true, EPUpdateContact: true, EPDeleteContact: true,
	EPGroupsCreate: true, EPMembersModify: true, EPFilesCreate: true, EPFilesUpdate: true,
	EPFilesDelete: true, EPUploadMultipart: true, EPUploadStart: true, EPUploadChunk: true,
}

// MaxBatchCreate is the People API's limit on contacts per batchCreateContacts.
const MaxBatchCreate = 200

// Fault is an error the server returns instead of serving a request.
type Fault struct {
	// Endpoint is one of the EP* names; empty matches every endpoint.
	Endpoint string
	// Status and Reason make the error ("rateLimitExceeded",
	// "userRateLimitExceeded", "backendError"). Status 0 with DropAfter set
	// drops the connection instead.
	Status     int
	Reason     string
	RetryAfter string
	// Times is how many requests fail (default 1).
	Times int
	// DropAfter, for upload chunks, keeps this many bytes of the body and
	// then closes the connection without answering, as a network cut does.
	DropAfter int64
	// Reset closes the connection with no answer before anything is done.
	Reset bool
	// Truncate serves the request, then sends its answer cut short: the
	// status and headers, half the body, and a closed connection.
	Truncate bool
}

// Server is the fake. Its exported methods let tests look at and change
// its state directly, as a person would through the Google web UI.
type Server struct {
	URL string
	// Token is the only bearer token accepted.
	Token string
	// MaxContacts is the account's contact limit (25,000 by default).
	MaxContacts int

	ts *httptest.Server

	// NoSHA256 leaves sha256Checksum out of file resources. Drive promises
	// md5Checksum for files with binary content; sha256Checksum is
	// documented but not promised for every file, so importers must cope
	// without it.
	NoSHA256 bool

	// ListLag leaves a file or folder out of the next ListLag files.list
	// responses after its creation. Drive promises no read-after-write
	// consistency for queries, and kopia's driver measured files.list by
	// name missing files created a moment before (kopia/kopia#90, "not
	// read-after-write consistent"; files.get was): an importer must not
	// rely on a listing to find what it has just uploaded.
	ListLag int

	// OnMutate, when set, runs while a People mutate is in progress, so a
	// test can hold one open and check that a second is rejected.
	OnMutate func()

	mu       sync.Mutex
	seq      int
	people   []*people.Person // creation order
	photos   map[string][]byte
	groups   []*people.ContactGroup
	files    map[string]*file
	lists    int // files.list responses so far, for ListLag
	sessions map[string]*session
	counts   map[string]int
	faults   []*Fault
	mutating bool
	// permissionID names the signed-in user (DefaultPermissionID when
	// empty).
	permissionID string
}

// New starts a fake server; it is closed when the test ends via t.Cleanup if
// the caller registers Close.
func New() *Server {
	s := &Server{
		Token:       "test-token",
		MaxContacts: 25000,
		photos:      map[string][]byte{},
		files:       map[string]*file{},
		sessions:    map[string]*session{},
		counts:      map[string]int{},
	}
	s.files[rootID] = &file{ID: rootID, Name: "My Drive", MimeType: FolderMIME, Created: time.Unix(0, 0)}
	s.groups = append(s.groups, &people.ContactGroup{ResourceName: "contactGroups/myContacts", Name: "myContacts", FormattedName: "My Contacts", GroupType: "SYSTEM_CONTACT_GROUP"})
	// URL is set before the server serves: handlers read it.
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.URL = "http://" + s.ts.Listener.Addr().String()
	s.ts.Start()
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Count returns how many requests an endpoint has received (faulted ones
// included).
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

// Counts returns a copy of every endpoint's counter.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Writes counts the requests that change the account.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.counts {
		if writeEndpoints[k] {
			n += v
		}
	}
	return n
}

// ResetCounts zeroes the counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
}

// apiError is Google's JSON error body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status,omitempty"`
	Errors  []struct {
		Reason  string `json:"reason"`
		Domain  string `json:"domain"`
		Message string `json:"message"`
	} `json:"errors,omitempty"`
}

func statusName(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 412:
		return "FAILED_PRECONDITION"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 503:
		return "UNAVAILABLE"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "UNKNOWN"
}

func writeError(w http.ResponseWriter, code int, reason, msg string) {
	e := apiError{Code: code, Message: msg, Status: statusName(code)}
	if reason != "" {
		e.Errors = append(e.Errors, struct {
			Reason  string `json:"reason"`
			Domain  string `json:"domain"`
			Message string `json:"message"`
		}{reason, "global", msg})
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

// route names the endpoint of a request and the resource id in its path.
func route(r *http.Request) (ep, id string) {
	p := r.URL.Path
	m := r.Method
	switch {
	case p == "/v1/people:batchCreateContacts" && m == http.MethodPost:
		return EPBatchCreate, ""
	case p == "/v1/people/me/connections" && m == http.MethodGet:
		return EPConnections, ""
	case strings.HasPrefix(p, "/v1/people/") && strings.HasSuffix(p, ":updateContactPhoto") && m == http.MethodPatch:
		return EPUpdatePhoto, strings.TrimSuffix(strings.TrimPrefix(p, "/v1/"), ":updateContactPhoto")
	case strings.HasPrefix(p, "/v1/people/") && strings.HasSuffix(p, ":updateContact") && m == http.MethodPatch:
		return EPUpdateContact, strings.TrimSuffix(strings.TrimPrefix(p, "/v1/"), ":updateContact")
	case strings.HasPrefix(p, "/v1/people/") && strings.HasSuffix(p, ":deleteContact") && m == http.MethodDelete:
		return EPDeleteContact, strings.TrimSuffix(strings.TrimPrefix(p, "/v1/"), ":deleteContact")
	case p == "/v1/contactGroups" && m == http.MethodGet:
		return EPGroupsList, ""
	case p == "/v1/contactGroups" && m == http.MethodPost:
		return EPGroupsCreate, ""
	case strings.HasPrefix(p, "/v1/contactGroups/") && strings.HasSuffix(p, "/members:modify") && m == http.MethodPost:
		return EPMembersModify, strings.TrimSuffix(strings.TrimPrefix(p, "/v1/"), "/members:modify")
	case p == "/drive/v3/about" && m == http.MethodGet:
		return EPAbout, ""
	case p == "/drive/v3/files" && m == http.MethodGet:
		return EPFilesList, ""
	case p == "/drive/v3/files" && m == http.MethodPost:
		return EPFilesCreate, ""
	case strings.HasPrefix(p, "/drive/v3/files/"):
		id = strings.TrimPrefix(p, "/drive/v3/files/")
		switch m {
		case http.MethodGet:
			if r.URL.Query().Get("alt") == "media" {
				return EPFilesDownload, id
			}
			return EPFilesGet, id
		case http.MethodPatch:
			return EPFilesUpdate, id
		case http.MethodDelete:
			return EPFilesDelete, id
		}
	case p == "/upload/drive/v3/files":
		q := r.URL.Query()
		switch {
		case q.Get("upload_id") != "" && (m == http.MethodPut || m == http.MethodPost):
			return EPUploadChunk, q.Get("upload_id")
		case q.Get("uploadType") == "multipart" && m == http.MethodPost:
			return EPUploadMultipart, ""
		case q.Get("uploadType") == "resumable" && m == http.MethodPost:
			return EPUploadStart, ""
		}
	}
	return "", ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/photos/") {
		// Photo URLs are public in Google's API too.
		s.servePhoto(w, r)
		return
	}
	ep, id := route(r)
	if ep == "" {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("fake google: no endpoint for %s %s", r.Method, r.URL.Path))
		return
	}
	s.mu.Lock()
	s.counts[ep]++
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		writeError(w, http.StatusUnauthorized, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
		return
	}
	if f := s.takeFault(ep); f != nil {
		if f.DropAfter > 0 && ep == EPUploadChunk {
			s.uploadChunk(w, r, id, f.DropAfter)
			return
		}
		if f.Reset {
			netfault.Reset(w)
			return
		}
		if f.Truncate {
			rec := netfault.NewRecorder()
			s.handle(rec, r, ep, id)
			rec.Truncate(w)
			return
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		msg := "fake google: injected fault"
		switch f.Reason {
		case "rateLimitExceeded", "userRateLimitExceeded":
			msg = "Rate Limit Exceeded"
		}
		writeError(w, f.Status, f.Reason, msg)
		return
	}
	s.handle(w, r, ep, id)
}

// handle serves a request that passed the token and fault checks.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, ep, id string) {
	switch ep {
	case EPBatchCreate, EPUpdatePhoto, EPUpdateContact, EPDeleteContact, EPGroupsCreate, EPMembersModify:
		if !s.beginMutate() {
			writeError(w, http.StatusConflict, "aborted", "The operation was aborted: another mutate request for this user is in progress; send mutate requests sequentially.")
			return
		}
		defer s.endMutate()
		if s.OnMutate != nil {
			s.OnMutate()
		}
	}
	switch ep {
	case EPBatchCreate:
		s.batchCreate(w, r)
	case EPConnections:
		s.connections(w, r)
	case EPUpdatePhoto:
		s.updatePhoto(w, r, id)
	case EPUpdateContact:
		s.updateContact(w, r, id)
	case EPDeleteContact:
		s.deleteContactHTTP(w, id)
	case EPGroupsList:
		s.groupsList(w, r)
	case EPGroupsCreate:
		s.groupsCreate(w, r)
	case EPMembersModify:
		s.membersModify(w, r, id)
	case EPAbout:
		s.about(w, r)
	case EPFilesList:
		s.filesList(w, r)
	case EPFilesCreate:
		s.filesCreate(w, r)
	case EPFilesGet:
		s.filesGet(w, r, id)
	case EPFilesDownload:
		s.filesDownload(w, id)
	case EPFilesUpdate:
		s.filesUpdate(w, r, id)
	case EPFilesDelete:
		s.filesDelete(w, id)
	case EPUploadMultipart:
		s.uploadMultipart(w, r)
	case EPUploadStart:
		s.uploadStart(w, r)
	case EPUploadChunk:
		s.uploadChunk(w, r, id, -1)
	}
}

func (s *Server) takeFault(ep string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Endpoint == "" || f.Endpoint == ep {
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			c := *f
			return &c
		}
	}
	return nil
}

func (s *Server) beginMutate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mutating {
		return false
	}
	s.mutating = true
	return true
}

func (s *Server) endMutate() {
	s.mu.Lock()
	s.mutating = false
	s.mu.Unlock()
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("googletest: response writer cannot hijack")
	}
	c, _, err := hj.Hijack()
	if err == nil {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// fieldSet is a loose reading of a `fields` or mask parameter: the names it
// mentions. Empty means "the defaults".
func fieldSet(v string) map[string]bool {
	if v == "" {
		return nil
	}
	set := map[string]bool{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == '(' || r == ')' || r == ' ' || r == '/'
	}) {
		set[f] = true
	}
	return set
}

func pageParams(r *http.Request, def, max int) (start, size int, err error) {
	size = def
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, cerr := strconv.Atoi(v)
		if cerr != nil || n < 0 {
			return 0, 0, fmt.Errorf("invalid pageSize %q", v)
		}
		if n > 0 {
			size = min(n, max)
		}
	}
	if v := r.URL.Query().Get("pageToken"); v != "" {
		n, cerr := strconv.Atoi(strings.TrimPrefix(v, "p"))
		if cerr != nil || n < 0 || !strings.HasPrefix(v, "p") {
			return 0, 0, fmt.Errorf("invalid page token")
		}
		start = n
	}
	return start, size, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// readJSON decodes a request body, accepting chunked transfer encoding.
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
