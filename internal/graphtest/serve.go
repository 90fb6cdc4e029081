package graphtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/netfault"
)

// route is one parsed request.
type route struct {
	kind   string   // counter name
	target string   // "path", "id", "upload", "download"
	segs   []string // item path from the drive root
	id     string
	action string // "", "children", "content", "createUploadSession"
	rel    string // escaped path after /v1.0, for nextLink
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "innerError": map[string]any{"date": time.Now().UTC().Format(time.RFC3339)}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) appSegs() []string { return []string{"Apps", s.opt.AppName} }

// parse maps an escaped URL path onto a route.
func (s *Server) parse(r *http.Request) (route, error) {
	ep := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(ep, "/upload/"); ok {
		return route{kind: "fragment", target: "upload", id: rest}, nil
	}
	if rest, ok := strings.CutPrefix(ep, "/download/"); ok {
		return route{kind: "download-url", target: "download", id: rest}, nil
	}
	rest, ok := strings.CutPrefix(ep, "/v1.0")
	if !ok {
		return route{}, fmt.Errorf("unknown path %s", ep)
	}
	rt := route{rel: rest}
	var base []string
	switch {
	case rest == "/me/drive":
		return route{kind: "drive", target: "drive", rel: rest}, nil
	case strings.HasPrefix(rest, "/me/drive/items/"):
		rest = strings.TrimPrefix(rest, "/me/drive/items/")
		id, act, _ := strings.Cut(rest, "/")
		rt.target, rt.id, rt.action = "id", id, act
		return rt, nil
	case strings.HasPrefix(rest, "/me/drive/special/approot"):
		rest = strings.TrimPrefix(rest, "/me/drive/special/approot")
		base = s.appSegs()
	case strings.HasPrefix(rest, "/me/drive/root"):
		rest = strings.TrimPrefix(rest, "/me/drive/root")
	default:
		return route{}, fmt.Errorf("unknown path %s", ep)
	}
	rt.target, rt.segs = "path", base
	if p, ok := strings.CutPrefix(rest, ":/"); ok {
		i := strings.Index(p, ":")
		if i < 0 {
			i = len(p)
		}
		for _, e := range strings.Split(p[:i], "/") {
			if e == "" {
				continue
			}
			seg, err := url.PathUnescape(e)
			if err != nil {
				return route{}, fmt.Errorf("bad path segment %q", e)
			}
			rt.segs = append(rt.segs, seg)
		}
		rest = p[i:]
		rest = strings.TrimPrefix(rest, ":")
	}
	rt.action = strings.TrimPrefix(rest, "/")
	return rt, nil
}

func (rt route) counter(method string) string {
	switch {
	case rt.target == "drive":
		return "drive"
	case rt.target == "upload" && method == http.MethodGet:
		return "session-status"
	case rt.target == "upload" && method == http.MethodDelete:
		return "session-delete"
	case rt.target == "upload":
		return "fragment"
	case rt.target == "download":
		return "download-url"
	case rt.action == "children" && method == http.MethodGet:
		return "list"
	case rt.action == "children" && method == http.MethodPost:
		return "create-folder"
	case rt.action == "content" && method == http.MethodPut:
		return "put"
	case rt.action == "content":
		return "download"
	case rt.action == "createUploadSession":
		return "create-session"
	case method == http.MethodPatch:
		return "patch"
	case method == http.MethodDelete:
		return "delete"
	}
	return "get"
}

var mutating = map[string]bool{"fragment": true, "session-delete": true, "create-folder": true, "put": true, "create-session": true, "patch": true, "delete": true}

// faultWriter swallows the real answer when a fault strikes after the work.
type lostAnswer struct {
	http.ResponseWriter
	status int
	hdr    http.Header
}

func (l *lostAnswer) Header() http.Header         { return l.hdr }
func (l *lostAnswer) WriteHeader(code int)        { l.status = code }
func (l *lostAnswer) Write(b []byte) (int, error) { return len(b), nil }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rt, err := s.parse(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "invalidRequest", err.Error())
		return
	}
	kind := rt.counter(r.Method)
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	s.counts[kind]++
	if rt.target == "upload" || rt.target == "download" {
		if auth != "" {
			s.counts["unauthorized"]++
			s.mu.Unlock()
			writeErr(w, http.StatusUnauthorized, "unauthenticated", "pre-authenticated URL: an Authorization header is not accepted here")
			return
		}
	} else if auth != "Bearer "+s.opt.Token {
		s.counts["unauthorized"]++
		s.mu.Unlock()
		writeErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	fault := 0
	if len(s.queued) > 0 && (s.queued[0].kind == "" || s.queued[0].kind == kind) {
		fault = s.queued[0].fault
		s.queued = s.queued[1:]
		s.counts["fault"]++
	} else if s.faultRate > 0 && s.rnd.Float64() < s.faultRate {
		s.counts["fault"]++
		if len(s.kinds) > 0 {
			fault = s.kinds[s.rnd.IntN(len(s.kinds))]
		} else {
			fault = 1 + s.rnd.IntN(4)
		}
	}
	retryAfter := s.retryAfter
	s.mu.Unlock()
	switch fault {
	case 1:
		w.Header().Set("Retry-After", retryAfter)
		writeErr(w, http.StatusTooManyRequests, "activityLimitReached", "The app or user has been throttled.")
		return
	case 2:
		w.Header().Set("Retry-After", retryAfter)
		writeErr(w, http.StatusServiceUnavailable, "serviceNotAvailable", "Service unavailable.")
		return
	case 3:
		io.Copy(io.Discard, r.Body)
		writeErr(w, http.StatusInternalServerError, "generalException", "An unspecified error has occurred.")
		return
	case 4:
		// Do the work, lose the answer.
		lw := &lostAnswer{ResponseWriter: w, hdr: http.Header{}}
		s.handle(lw, r, rt, kind)
		writeErr(w, http.StatusInternalServerError, "generalException", "An unspecified error has occurred.")
		return
	case Reset:
		netfault.Reset(w)
		return
	case Truncated:
		rec := netfault.NewRecorder()
		s.handle(rec, r, rt, kind)
		rec.Truncate(w)
		return
	}
	s.handle(w, r, rt, kind)
}

// handle serves a request; it counts a write when a mutation succeeds.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, rt route, kind string) {
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if mutating[kind] && rec.status < 400 {
			s.mu.Lock()
			s.writes++
			s.mu.Unlock()
		}
	}()
	switch rt.target {
	case "upload":
		s.serveUpload(rec, r, rt.id)
	case "download":
		s.serveDownload(rec, rt.id)
	case "drive":
		s.serveDrive(rec, r)
	default:
		s.serveAPI(rec, r, rt)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// checkName applies OneDrive's naming rules to one segment.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("empty or dot name")
	}
	if i := strings.IndexAny(name, refusedChars); i >= 0 {
		return fmt.Errorf("name %q contains the character %q, which OneDrive does not allow", name, name[i])
	}
	if strings.HasPrefix(name, " ") || strings.HasSuffix(name, " ") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("name %q starts or ends with a space or ends with a period", name)
	}
	for _, c := range name {
		if c < 0x20 {
			return fmt.Errorf("name %q contains a control character", name)
		}
	}
	return nil
}

func checkPath(segs []string) error {
	if len(strings.Join(segs, "/")) > 400 {
		return fmt.Errorf("path longer than 400 characters")
	}
	for _, seg := range segs {
		if err := checkName(seg); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) itemJSON(n *node) map[string]any {
	m := map[string]any{
		"id":   n.id,
		"name": n.name,
		"eTag": fmt.Sprintf(`"{%s},%d"`, n.id, n.version),
		"cTag": fmt.Sprintf(`"c:{%s},%d"`, n.id, n.version),
		"fileSystemInfo": map[string]any{
			"createdDateTime":      n.created.UTC().Format(time.RFC3339),
			"lastModifiedDateTime": n.modified.UTC().Format(time.RFC3339),
		},
	}
	if n.parent != nil {
		m["parentReference"] = map[string]any{"driveId": "fakedrive", "id": n.parent.id, "path": "/drive/root:" + n.parent.path()}
	}
	if n.folder {
		m["folder"] = map[string]any{"childCount": len(n.children)}
		return m
	}
	m["size"] = len(n.data)
	m["file"] = map[string]any{"mimeType": "application/octet-stream", "hashes": map[string]any{"quickXorHash": n.hash}}
	return m
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt.target == "path" {
		if len(rt.segs) >= 2 && rt.segs[0] == "Apps" && rt.segs[1] == s.opt.AppName {
			s.mkdirs(s.appSegs()) // created on first use, as Graph does
		}
		if err := checkPath(rt.segs); err != nil {
			writeErr(w, http.StatusBadRequest, "invalidRequest", err.Error())
			return
		}
	}
	var n *node
	if rt.target == "id" {
		n = s.byID[rt.id]
	} else {
		n = s.lookup(rt.segs)
	}
	switch {
	case rt.action == "" && r.Method == http.MethodGet:
		if n == nil {
			writeErr(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(w, http.StatusOK, s.itemJSON(n))
	case rt.action == "children" && r.Method == http.MethodGet:
		s.list(w, r, rt, n)
	case rt.action == "children" && r.Method == http.MethodPost:
		s.createFolder(w, r, n)
	case rt.action == "content" && r.Method == http.MethodPut:
		s.putContent(w, r, rt)
	case rt.action == "content" && r.Method == http.MethodGet:
		if n == nil || n.folder {
			writeErr(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		w.Header().Set("Location", s.srv.URL+"/download/"+n.id)
		w.WriteHeader(http.StatusFound)
	case rt.action == "createUploadSession" && r.Method == http.MethodPost:
		s.createSession(w, r, rt)
	case rt.action == "" && r.Method == http.MethodPatch:
		if n == nil {
			writeErr(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		var body struct {
			FileSystemInfo *fsInfo `json:"fileSystemInfo"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeErr(w, http.StatusBadRequest, "invalidRequest", err.Error())
			return
		}
		if f := body.FileSystemInfo; f != nil {
			if !f.Created.IsZero() {
				n.created = f.Created
			}
			if !f.Modified.IsZero() {
				n.modified = f.Modified
			}
		}
		writeJSON(w, http.StatusOK, s.itemJSON(n))
	case rt.action == "" && r.Method == http.MethodDelete:
		if n == nil || n == s.root {
			writeErr(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		s.unlink(n)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeErr(w, http.StatusMethodNotAllowed, "invalidRequest", r.Method+" "+rt.action+" is not supported by the fake")
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, rt route, n *node) {
	if n == nil {
		writeErr(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
		return
	}
	if !n.folder {
		writeErr(w, http.StatusBadRequest, "invalidRequest", "not a folder")
		return
	}
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	sort.Strings(names)
	q := r.URL.Query()
	top, _ := strconv.Atoi(q.Get("$top"))
	if top <= 0 || top > s.opt.PageSize {
		top = s.opt.PageSize // pages may be smaller than asked
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	end := min(skip+top, len(names))
	out := map[string]any{}
	var vals []any
	for _, k := range names[min(skip, len(names)):end] {
		vals = append(vals, s.itemJSON(n.children[k]))
	}
	if vals == nil {
		vals = []any{}
	}
	out["value"] = vals
	if end < len(names) {
		p := r.URL.EscapedPath()
		out["@odata.nextLink"] = fmt.Sprintf("%s%s?$top=%d&$skiptoken=%d", s.srv.URL, p, top, end)
	}
	writeJSON(w, http.StatusOK, out)
}

// place resolves conflictBehavior for name in dir; it returns the existing
// node to overwrite, or the name to create, or writes a 409.
func (s *Server) place(w http.ResponseWriter, dir *node, name, conflict string) (existing *node, newName string, ok bool) {
	ex := dir.children[strings.ToLower(name)]
	if ex == nil {
		return nil, name, true
	}
	switch conflict {
	case "fail":
		writeErr(w, http.StatusConflict, "nameAlreadyExists", fmt.Sprintf("The specified item name %q already exists.", ex.name))
		return nil, "", false
	case "rename":
		ext := path.Ext(name)
		stem := strings.TrimSuffix(name, ext)
		for i := 1; ; i++ {
			cand := fmt.Sprintf("%s %d%s", stem, i, ext)
			if dir.children[strings.ToLower(cand)] == nil {
				return nil, cand, true
			}
		}
	default: // "replace" and Graph's default
		if ex.folder {
			writeErr(w, http.StatusConflict, "nameAlreadyExists", "a folder has that name")
			return nil, "", false
		}
		return ex, "", true
	}
}

func (s *Server) parentOf(w http.ResponseWriter, segs []string) (*node, bool) {
	if len(segs) == 0 {
		writeErr(w, http.StatusBadRequest, "invalidRequest", "no file name")
		return nil, false
	}
	parent := s.lookup(segs[:len(segs)-1])
	if parent != nil && !parent.folder {
		writeErr(w, http.StatusConflict, "nameAlreadyExists", "a file stands where a folder is needed")
		return nil, false
	}
	if parent == nil {
		// A simple PUT creates the missing parent folders it names (a
		// session checked its parent when it began).
		for i := range segs[:len(segs)-1] {
			if p := s.lookup(segs[:i+1]); p != nil && !p.folder {
				writeErr(w, http.StatusConflict, "nameAlreadyExists", "a file stands where a folder is needed")
				return nil, false
			}
		}
		parent = s.mkdirs(segs[:len(segs)-1])
	}
	return parent, true
}

func (s *Server) store(w http.ResponseWriter, dir *node, name, conflict string, data []byte, fsi fsInfo) {
	ex, newName, ok := s.place(w, dir, name, conflict)
	if !ok {
		return
	}
	status := http.StatusOK
	n := ex
	if n == nil {
		n = s.newNode(dir, newName, false)
		status = http.StatusCreated
	} else {
		n.version++
	}
	n.setData(data)
	now := time.Now().UTC().Truncate(time.Second)
	n.created, n.modified = now, now
	if !fsi.Created.IsZero() {
		n.created = fsi.Created
	}
	if !fsi.Modified.IsZero() {
		n.modified = fsi.Modified
	}
	writeJSON(w, status, s.itemJSON(n))
}

func (s *Server) putContent(w http.ResponseWriter, r *http.Request, rt route) {
	if r.ContentLength > MaxSimplePut {
		writeErr(w, http.StatusRequestEntityTooLarge, "requestEntityTooLarge", "simple upload is limited to 4 MiB; use an upload session")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxSimplePut+1))
	if err != nil || int64(len(data)) != r.ContentLength {
		writeErr(w, http.StatusBadRequest, "invalidRequest", "body does not match Content-Length")
		return
	}
	parent, ok := s.parentOf(w, rt.segs)
	if !ok {
		return
	}
	conflict := r.URL.Query().Get("@microsoft.graph.conflictBehavior")
	if conflict == "" {
		conflict = "replace"
	}
	s.store(w, parent, rt.segs[len(rt.segs)-1], conflict, data, fsInfo{})
}

func (s *Server) createFolder(w http.ResponseWriter, r *http.Request, parent *node) {
	if parent == nil || !parent.folder {
		writeErr(w, http.StatusNotFound, "itemNotFound", "parent folder not found")
		return
	}
	var body struct {
		Name     string          `json:"name"`
		Folder   json.RawMessage `json:"folder"`
		Conflict string          `json:"@microsoft.graph.conflictBehavior"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Folder == nil {
		writeErr(w, http.StatusBadRequest, "invalidRequest", "need name and folder")
		return
	}
	if err := checkName(body.Name); err != nil {
		writeErr(w, http.StatusBadRequest, "invalidRequest", err.Error())
		return
	}
	ex := parent.children[strings.ToLower(body.Name)]
	if ex != nil && (body.Conflict == "fail" || !ex.folder) {
		writeErr(w, http.StatusConflict, "nameAlreadyExists", fmt.Sprintf("The specified item name %q already exists.", ex.name))
		return
	}
	if ex != nil && body.Conflict != "rename" {
		writeJSON(w, http.StatusOK, s.itemJSON(ex))
		return
	}
	name := body.Name
	if ex != nil {
		for i := 1; parent.children[strings.ToLower(name)] != nil; i++ {
			name = fmt.Sprintf("%s %d", body.Name, i)
		}
	}
	writeJSON(w, http.StatusCreated, s.itemJSON(s.newNode(parent, name, true)))
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request, rt route) {
	var body struct {
		Item struct {
			Conflict string `json:"@microsoft.graph.conflictBehavior"`
			FSI      fsInfo `json:"fileSystemInfo"`
		} `json:"item"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "invalidRequest", err.Error())
		return
	}
	if len(rt.segs) == 0 {
		writeErr(w, http.StatusBadRequest, "invalidRequest", "no file name")
		return
	}
	// Graph: "the parent folder must exist before you call
	// createUploadSession"; only a simple PUT makes the folders it names.
	switch parent := s.lookup(rt.segs[:len(rt.segs)-1]); {
	case parent == nil:
		writeErr(w, http.StatusNotFound, "itemNotFound", "The parent folder of the upload session does not exist; create it first.")
		return
	case !parent.folder:
		writeErr(w, http.StatusConflict, "nameAlreadyExists", "a file stands where the upload session's parent folder is needed")
		return
	}
	s.seq++
	id := fmt.Sprintf("SESS%06d", s.seq)
	exp := time.Now().Add(7 * 24 * time.Hour).UTC()
	s.sess[id] = &session{id: id, parent: rt.segs[:len(rt.segs)-1], name: rt.segs[len(rt.segs)-1], conflict: body.Item.Conflict, fsi: body.Item.FSI, total: -1, expires: exp}
	writeJSON(w, http.StatusOK, map[string]any{
		"uploadUrl":          s.srv.URL + "/upload/" + id,
		"expirationDateTime": exp.Format(time.RFC3339),
		"nextExpectedRanges": []string{"0-"},
	})
}

var contentRange = regexp.MustCompile(`^bytes (\d+)-(\d+)/(\d+)$`)

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sess[id]
	if ss == nil {
		io.Copy(io.Discard, r.Body)
		writeErr(w, http.StatusNotFound, "itemNotFound", "The upload session was not found.")
		return
	}
	next := fmt.Sprintf("%d-", len(ss.data))
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"expirationDateTime": ss.expires.Format(time.RFC3339), "nextExpectedRanges": []string{next}})
		return
	case http.MethodDelete:
		delete(s.sess, id)
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPut:
	default:
		writeErr(w, http.StatusMethodNotAllowed, "invalidRequest", "method not allowed")
		return
	}
	m := contentRange.FindStringSubmatch(r.Header.Get("Content-Range"))
	if m == nil {
		writeErr(w, http.StatusBadRequest, "invalidRequest", "Content-Range missing or malformed")
		return
	}
	a, _ := strconv.ParseInt(m[1], 10, 64)
	b, _ := strconv.ParseInt(m[2], 10, 64)
	total, _ := strconv.ParseInt(m[3], 10, 64)
	n := b - a + 1
	switch {
	case n <= 0 || b >= total:
		writeErr(w, http.StatusBadRequest, "invalidRequest", "Content-Range out of bounds")
		return
	case ss.total >= 0 && total != ss.total:
		writeErr(w, http.StatusBadRequest, "invalidRequest", "total size changed within the session")
		return
	case a != int64(len(ss.data)):
		writeErr(w, http.StatusRequestedRangeNotSatisfiable, "invalidRange", fmt.Sprintf("expected a fragment starting at %d", len(ss.data)))
		return
	case r.ContentLength != n:
		writeErr(w, http.StatusBadRequest, "invalidRequest", "Content-Length does not match Content-Range")
		return
	case n >= MaxFragment:
		writeErr(w, http.StatusRequestEntityTooLarge, "invalidRequest", "fragments must be under 60 MiB")
		return
	case b+1 < total && n%FragmentUnit != 0:
		writeErr(w, http.StatusBadRequest, "invalidRequest", "every fragment but the last must be a multiple of 320 KiB")
		return
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, n+1))
	if err != nil || int64(len(buf)) != n {
		writeErr(w, http.StatusBadRequest, "invalidRequest", "body shorter than Content-Length")
		return
	}
	ss.total = total
	ss.data = append(ss.data, buf...)
	if int64(len(ss.data)) < total {
		writeJSON(w, http.StatusAccepted, map[string]any{"expirationDateTime": ss.expires.Format(time.RFC3339), "nextExpectedRanges": []string{fmt.Sprintf("%d-", len(ss.data))}})
		return
	}
	delete(s.sess, id)
	segs := append(append([]string{}, ss.parent...), ss.name)
	if err := checkPath(segs); err != nil {
		writeErr(w, http.StatusBadRequest, "invalidRequest", err.Error())
		return
	}
	parent, ok := s.parentOf(w, segs)
	if !ok {
		return
	}
	s.store(w, parent, ss.name, ss.conflict, ss.data, ss.fsi)
}

func (s *Server) serveDownload(w http.ResponseWriter, id string) {
	s.mu.Lock()
	n := s.byID[id]
	var data []byte
	if n != nil {
		data = n.data
	}
	s.mu.Unlock()
	if n == nil || n.folder {
		writeErr(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}
