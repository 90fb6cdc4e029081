package googletest

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/drive/v3"
)

// FolderMIME is Drive's folder type.
const FolderMIME = "application/vnd.google-apps.folder"

const rootID = "0AFakeRootFolder"

type file struct {
	ID            string
	Name          string
	MimeType      string
	Parents       []string
	AppProperties map[string]string
	Modified      time.Time
	Created       time.Time
	Content       []byte
	// size is Content's length, or with KeepNoBytes the length of the
	// bytes that were not kept (dropped).
	size    int64
	dropped bool
	// md5, sha256 are Content's checksums, computed when it is set: Drive
	// stores them with the file, and recomputing them on every listing
	// would charge the fake's work to the importers in benchmarks.
	md5, sha256 string
	// hiddenUntil is the last files.list response that leaves it out
	// (Server.ListLag).
	hiddenUntil int
}

// errDropped answers a download of bytes not kept (Server.KeepNoBytes).
const errDropped = "googletest: this file's bytes were not kept (KeepNoBytes)"

// content is a file's bytes with their checksums. They are computed
// before the server's lock is taken: hashed under it, four uploads at
// once took turns on one core, and the fake, not the importer, set the
// pace of an upload benchmark.
type content struct {
	b           []byte
	size        int64
	dropped     bool
	md5, sha256 string
}

func newContent(b []byte) content {
	md := md5.Sum(b)
	sh := sha256.Sum256(b)
	return content{b: b, size: int64(len(b)), md5: hex.EncodeToString(md[:]), sha256: hex.EncodeToString(sh[:])}
}

// setContent replaces f's bytes and their checksums.
func (f *file) setContent(c content) {
	f.Content, f.size, f.dropped, f.md5, f.sha256 = c.b, c.size, c.dropped, c.md5, c.sha256
}

type session struct {
	meta     drive.File
	fields   string
	total    int64 // -1 until known
	received []byte
	// got is how many bytes arrived: len(received), or with KeepNoBytes
	// the bytes hashed and let go.
	got int64
	// md5 and sha256 of received, fed as each chunk lands (outside the
	// lock, like the bytes themselves).
	md5, sha256 hash.Hash
	done        *file
}

// FileInfo is a file as a test sees it.
type FileInfo struct {
	ID, Name, MimeType string
	// Path is the slash-joined names from the Drive root ("miexit/src/a.jpg").
	Path          string
	AppProperties map[string]string
	Modified      time.Time
	Size          int64
	MD5, SHA256   string
}

func (f *file) folder() bool { return f.MimeType == FolderMIME }

// driveFile renders f as the API does, with the fields asked for (the
// defaults when none were).
func (s *Server) driveFile(f *file, fields map[string]bool) map[string]any {
	m := map[string]any{"kind": "drive#file", "id": f.ID, "name": f.Name, "mimeType": f.MimeType}
	if fields == nil {
		return m
	}
	full := map[string]any{
		"parents":      f.Parents,
		"modifiedTime": f.Modified.UTC().Format(time.RFC3339Nano),
		"createdTime":  f.Created.UTC().Format(time.RFC3339Nano),
		"trashed":      false,
	}
	if len(f.AppProperties) > 0 {
		full["appProperties"] = f.AppProperties
	}
	if !f.folder() {
		full["size"] = strconv.FormatInt(f.size, 10)
		full["md5Checksum"] = f.md5
		if !s.NoSHA256 {
			full["sha256Checksum"] = f.sha256
		}
	}
	if fields["*"] {
		for k, v := range full {
			m[k] = v
		}
		return m
	}
	for k, v := range full {
		if fields[k] {
			m[k] = v
		}
	}
	for _, k := range []string{"kind", "id", "name", "mimeType"} {
		if !fields[k] && !fields["files"] {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		m["id"] = f.ID
	}
	return m
}

// generateIDs answers files.generateIds: ids a create may set as the
// new file's own, so that a retry after a lost answer can ask for that
// file by id instead of searching for it.
func (s *Server) generateIDs(w http.ResponseWriter, r *http.Request) {
	n := 10
	if c := r.URL.Query().Get("count"); c != "" {
		v, err := strconv.Atoi(c)
		if err != nil || v < 1 || v > 1000 {
			writeError(w, 400, "invalid", "Invalid value for count: "+c)
			return
		}
		n = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.genIDs == nil {
		s.genIDs = map[string]bool{}
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("G%06d", s.nextID())
		s.genIDs[ids[i]] = true
	}
	writeJSON(w, map[string]any{"kind": "drive#generatedIds", "space": "drive", "ids": ids})
}

// newFileLocked validates metadata and creates a file with content.
func (s *Server) newFileLocked(meta *drive.File, c content) (*file, int, string) {
	id := ""
	if meta.Id != "" {
		// Only an id generateIds gave, and only once.
		if _, exists := s.files[meta.Id]; exists {
			return nil, 409, "A file already exists with the provided ID."
		}
		if !s.genIDs[meta.Id] {
			return nil, 400, "The provided file ID is not usable."
		}
		id = meta.Id
	}
	if strings.TrimSpace(meta.Name) == "" && meta.MimeType != FolderMIME {
		meta.Name = "Untitled"
	}
	parents := meta.Parents
	if len(parents) == 0 {
		parents = []string{rootID}
	}
	if len(parents) > 1 {
		return nil, 403, "A shared drive item must have exactly one parent; files must have one parent."
	}
	for i, p := range parents {
		if p == "root" {
			parents[i] = rootID
			p = rootID
		}
		pf := s.files[p]
		if pf == nil || !pf.folder() {
			return nil, 404, "File not found: " + p + "."
		}
	}
	for k, v := range meta.AppProperties {
		if len(k)+len(v) > 124 {
			return nil, 400, fmt.Sprintf("The size of the property %q exceeds the 124 bytes limit on key and value.", k)
		}
	}
	now := time.Now()
	if id == "" {
		id = fmt.Sprintf("F%06d", s.nextID())
	}
	delete(s.genIDs, id)
	f := &file{
		ID:            id,
		Name:          meta.Name,
		MimeType:      meta.MimeType,
		Parents:       parents,
		AppProperties: map[string]string{},
		Created:       now,
		Modified:      now,
		hiddenUntil:   s.lists + s.ListLag,
	}
	f.setContent(c)
	if f.MimeType == "" {
		f.MimeType = "application/octet-stream"
	}
	for k, v := range meta.AppProperties {
		f.AppProperties[k] = v
	}
	if meta.ModifiedTime != "" {
		t, err := time.Parse(time.RFC3339Nano, meta.ModifiedTime)
		if err != nil {
			return nil, 400, "Invalid value for modifiedTime: " + meta.ModifiedTime
		}
		f.Modified = t
	}
	s.files[f.ID] = f
	return f, 0, ""
}

func (s *Server) filesCreate(w http.ResponseWriter, r *http.Request) {
	var meta drive.File
	if err := readJSON(r, &meta); err != nil {
		writeError(w, 400, "parseError", "Parse Error")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, code, msg := s.newFileLocked(&meta, newContent(nil))
	if f == nil {
		writeError(w, code, "invalid", msg)
		return
	}
	writeJSON(w, s.driveFile(f, fieldSet(r.URL.Query().Get("fields"))))
}

func (s *Server) filesGet(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fileLocked(id)
	if f == nil {
		writeError(w, 404, "notFound", "File not found: "+id+".")
		return
	}
	writeJSON(w, s.driveFile(f, fieldSet(r.URL.Query().Get("fields"))))
}

func (s *Server) fileLocked(id string) *file {
	if id == "root" {
		id = rootID
	}
	return s.files[id]
}

func (s *Server) filesDownload(w http.ResponseWriter, id string) {
	s.mu.Lock()
	f := s.fileLocked(id)
	var b []byte
	if f != nil {
		b = f.Content
	}
	s.mu.Unlock()
	if f == nil {
		writeError(w, 404, "notFound", "File not found: "+id+".")
		return
	}
	if f.dropped {
		writeError(w, 500, "backendError", errDropped)
		return
	}
	if f.folder() {
		writeError(w, 403, "fileNotDownloadable", "Only files with binary content can be downloaded.")
		return
	}
	w.Header().Set("Content-Type", f.MimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func (s *Server) filesUpdate(w http.ResponseWriter, r *http.Request, id string) {
	var meta struct {
		Name          string             `json:"name"`
		AppProperties map[string]*string `json:"appProperties"`
		ModifiedTime  string             `json:"modifiedTime"`
	}
	if err := readJSON(r, &meta); err != nil {
		writeError(w, 400, "parseError", "Parse Error")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fileLocked(id)
	if f == nil || f.ID == rootID {
		writeError(w, 404, "notFound", "File not found: "+id+".")
		return
	}
	if meta.Name != "" {
		f.Name = meta.Name
	}
	for k, v := range meta.AppProperties {
		if v == nil {
			delete(f.AppProperties, k)
		} else {
			f.AppProperties[k] = *v
		}
	}
	if meta.ModifiedTime != "" {
		t, err := time.Parse(time.RFC3339Nano, meta.ModifiedTime)
		if err != nil {
			writeError(w, 400, "invalid", "Invalid value for modifiedTime")
			return
		}
		f.Modified = t
	}
	q := r.URL.Query()
	if add := q.Get("addParents"); add != "" {
		if p := s.fileLocked(add); p == nil || !p.folder() {
			writeError(w, 404, "notFound", "File not found: "+add+".")
			return
		}
		f.Parents = append(f.Parents, add)
	}
	if rm := q.Get("removeParents"); rm != "" {
		var keep []string
		for _, p := range f.Parents {
			if p != rm {
				keep = append(keep, p)
			}
		}
		f.Parents = keep
	}
	writeJSON(w, s.driveFile(f, fieldSet(q.Get("fields"))))
}

func (s *Server) filesDelete(w http.ResponseWriter, id string) {
	if id == "root" || id == rootID || !s.DeleteFile(id) {
		writeError(w, 404, "notFound", "File not found: "+id+".")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) filesList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	match, err := parseQuery(q.Get("q"))
	if err != nil {
		writeError(w, 400, "invalid", "Invalid Value: q: "+err.Error())
		return
	}
	start, size, err := pageParams(r, 100, 1000)
	if err != nil {
		writeError(w, 400, "invalid", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	var all []*file
	for _, f := range s.files {
		if f.ID != rootID && match(f) && f.hiddenUntil < s.lists {
			all = append(all, f)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].Created.Equal(all[j].Created) {
			return all[i].Created.Before(all[j].Created)
		}
		return all[i].ID < all[j].ID
	})
	fields := fieldSet(q.Get("fields"))
	out := map[string]any{"kind": "drive#fileList", "incompleteSearch": false}
	list := []map[string]any{}
	for i := start; i < len(all) && i < start+size; i++ {
		list = append(list, s.driveFile(all[i], fields))
	}
	out["files"] = list
	if start+size < len(all) {
		out["nextPageToken"] = fmt.Sprintf("p%d", start+size)
	}
	writeJSON(w, out)
}

// parseQuery understands the subset of Drive's query language miexit uses:
// terms joined by "and": name = '...', mimeType = / != '...',
// '<id>' in parents, trashed = false, and
// appProperties has { key='k' and value='v' }.
func parseQuery(q string) (func(*file) bool, error) {
	p := &qparser{s: q}
	var terms []func(*file) bool
	for {
		p.space()
		if p.eof() {
			break
		}
		if len(terms) > 0 {
			if !p.word("and") {
				return nil, fmt.Errorf("expected 'and' at %d", p.i)
			}
			p.space()
		}
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	return func(f *file) bool {
		for _, t := range terms {
			if !t(f) {
				return false
			}
		}
		return true
	}, nil
}

type qparser struct {
	s string
	i int
}

func (p *qparser) eof() bool { return p.i >= len(p.s) }

func (p *qparser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *qparser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		end := p.i + len(w)
		if end == len(p.s) || !isIdent(p.s[end]) || !isIdent(w[len(w)-1]) {
			p.i = end
			return true
		}
	}
	return false
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *qparser) ident() string {
	st := p.i
	for p.i < len(p.s) && isIdent(p.s[p.i]) {
		p.i++
	}
	return p.s[st:p.i]
}

func (p *qparser) str() (string, error) {
	p.space()
	if p.eof() || p.s[p.i] != '\'' {
		return "", fmt.Errorf("expected a quoted string at %d", p.i)
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", errors.New("dangling escape")
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case '\'':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", errors.New("unterminated string")
}

func (p *qparser) op() string {
	p.space()
	for _, o := range []string{"!=", "=", "contains"} {
		if p.word(o) {
			return o
		}
	}
	return ""
}

func (p *qparser) term() (func(*file) bool, error) {
	if !p.eof() && p.s[p.i] == '\'' {
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.word("in") {
			return nil, errors.New("expected 'in'")
		}
		p.space()
		if p.ident() != "parents" {
			return nil, errors.New("expected 'parents'")
		}
		if v == "root" {
			v = rootID
		}
		return func(f *file) bool {
			for _, x := range f.Parents {
				if x == v {
					return true
				}
			}
			return false
		}, nil
	}
	field := p.ident()
	switch field {
	case "name", "mimeType":
		o := p.op()
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		get := func(f *file) string { return f.Name }
		if field == "mimeType" {
			get = func(f *file) string { return f.MimeType }
		}
		switch o {
		case "=":
			return func(f *file) bool { return get(f) == v }, nil
		case "!=":
			return func(f *file) bool { return get(f) != v }, nil
		case "contains":
			return func(f *file) bool { return strings.Contains(get(f), v) }, nil
		}
		return nil, fmt.Errorf("bad operator for %s", field)
	case "trashed":
		if p.op() != "=" {
			return nil, errors.New("bad operator for trashed")
		}
		p.space()
		switch p.ident() {
		case "false":
			return func(*file) bool { return true }, nil
		case "true":
			return func(*file) bool { return false }, nil
		}
		return nil, errors.New("trashed takes true or false")
	case "appProperties":
		p.space()
		if !p.word("has") {
			return nil, errors.New("expected 'has'")
		}
		p.space()
		if p.eof() || p.s[p.i] != '{' {
			return nil, errors.New("expected '{'")
		}
		p.i++
		p.space()
		if p.ident() != "key" || p.op() != "=" {
			return nil, errors.New("expected key=")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.word("and") {
			return nil, errors.New("expected 'and'")
		}
		p.space()
		if p.ident() != "value" || p.op() != "=" {
			return nil, errors.New("expected value=")
		}
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.eof() || p.s[p.i] != '}' {
			return nil, errors.New("expected '}'")
		}
		p.i++
		return func(f *file) bool { x, ok := f.AppProperties[k]; return ok && x == v }, nil
	}
	return nil, fmt.Errorf("unsupported term %q", field)
}

// uploadMultipart takes metadata and media in one multipart/related body,
// read as it streams (the Go client sends it chunked).
func (s *Server) uploadMultipart(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		writeError(w, 400, "badContent", "Bad content type. Please use multipart.")
		return
	}
	// multipart reads through a 4 KiB buffer unless given a larger one:
	// a read system call per 4 KiB of every upload was this fake's
	// largest cost after its buffers.
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r.Body)
	defer func() { br.Reset(nil); readerPool.Put(br) }()
	mr := multipart.NewReader(br, params["boundary"])
	part, err := mr.NextPart()
	if err != nil {
		writeError(w, 400, "badContent", "Missing metadata part.")
		return
	}
	var meta drive.File
	if err := json.NewDecoder(part).Decode(&meta); err != nil {
		writeError(w, 400, "parseError", "Parse Error in metadata part.")
		return
	}
	part, err = mr.NextPart()
	if err != nil {
		writeError(w, 400, "badContent", "Missing media part.")
		return
	}
	// Read with append's growth, not a bytes.Buffer's: a Buffer grown to
	// the exact size doubles itself once more to look for the end, and
	// that zeroing and copying made this fake cost more CPU than the
	// importer it measures.
	var media []byte
	if r.ContentLength > 0 {
		// The body is a little more than the media: no regrowing.
		media, err = readAllInto(make([]byte, 0, min(r.ContentLength, 64<<20)), part)
	} else {
		// A streamed body (the Go client's, with ChunkSize 0) has no
		// length: read into a scratch buffer that holds a photo, and
		// keep an exact copy.
		scratch := scratchPool.Get().(*[]byte)
		var got []byte
		got, err = readAllInto((*scratch)[:0], part)
		media = got
		if !s.KeepNoBytes {
			media = bytes.Clone(got)
		}
		if cap(got) == cap(*scratch) {
			defer scratchPool.Put(scratch)
		}
	}
	if err != nil {
		writeError(w, 400, "badContent", "Truncated media part.")
		return
	}
	if meta.MimeType == "" {
		meta.MimeType = part.Header.Get("Content-Type")
	}
	c := newContent(media)
	if s.KeepNoBytes {
		c.b, c.dropped = nil, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, code, msg := s.newFileLocked(&meta, c)
	if f == nil {
		writeError(w, code, "invalid", msg)
		return
	}
	writeJSON(w, s.driveFile(f, fieldSet(r.URL.Query().Get("fields"))))
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// readAllInto appends all of r to b. A b with room for all of r is never
// grown: the end is found by a small read on the side.
func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	var probe [512]byte
	for {
		var n int
		var err error
		if len(b) == cap(b) {
			n, err = r.Read(probe[:])
			b = append(b, probe[:n]...)
		} else {
			n, err = r.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func (s *Server) uploadStart(w http.ResponseWriter, r *http.Request) {
	var meta drive.File
	if err := readJSON(r, &meta); err != nil {
		writeError(w, 400, "parseError", "Parse Error")
		return
	}
	total := int64(-1)
	if v := r.Header.Get("X-Upload-Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, 400, "invalid", "Invalid X-Upload-Content-Length")
			return
		}
		total = n
	}
	if meta.MimeType == "" {
		meta.MimeType = r.Header.Get("X-Upload-Content-Type")
	}
	s.mu.Lock()
	id := fmt.Sprintf("U%08d", s.nextID())
	s.sessions[id] = &session{meta: meta, fields: r.URL.Query().Get("fields"), total: total, md5: md5.New(), sha256: sha256.New()}
	s.mu.Unlock()
	w.Header().Set("Location", s.URL+"/upload/drive/v3/files?uploadType=resumable&upload_id="+id)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// parseContentRange reads "bytes a-b/total", "bytes a-b/*", "bytes */total"
// and "bytes */*"; first is -1 for a status query.
func parseContentRange(v string) (first, last, total int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("bad Content-Range %q", v)
		}
	}
	if rng == "*" {
		return -1, -1, total, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	if first, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
		return 0, 0, 0, fmt.Errorf("bad Content-Range %q", v)
	}
	return first, last, total, nil
}

// uploadChunk appends a chunk to a session, or answers a status query. With
// drop >= 0 it keeps drop bytes and cuts the connection.
func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request, id string, drop int64) {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		writeError(w, 404, "notFound", "No such upload session (it may have expired).")
		return
	}
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		cr = "bytes */*"
		if r.ContentLength > 0 {
			cr = fmt.Sprintf("bytes 0-%d/%d", r.ContentLength-1, r.ContentLength)
		}
	}
	first, last, total, err := parseContentRange(cr)
	if err != nil {
		writeError(w, 400, "badRequest", err.Error())
		return
	}
	s.mu.Lock()
	if sess.done != nil {
		f := sess.done
		s.mu.Unlock()
		writeJSON(w, s.driveFile(f, fieldSet(sess.fields)))
		return
	}
	have := sess.got
	s.mu.Unlock()
	if first >= 0 {
		if first > have {
			writeError(w, 400, "badRequest", fmt.Sprintf("Content-Range starts at %d but the server has %d bytes.", first, have))
			return
		}
		var body io.Reader = r.Body
		if drop >= 0 {
			body = io.LimitReader(r.Body, drop)
		}
		// Overlap with what the server already has is skipped, as Google does.
		skip := have - first
		if _, err := io.CopyN(io.Discard, body, skip); err != nil {
			return
		}
		// The chunk is read straight into the session's bytes, which get
		// the whole file's room at once when its size is known: no copy
		// and no doubling per chunk.
		want := last - have + 1
		if want > 1<<30 {
			writeError(w, 400, "badRequest", "Chunk too large for this fake.")
			return
		}
		var n int
		var rerr error
		if s.KeepNoBytes {
			var m int64
			m, rerr = io.Copy(io.MultiWriter(sess.md5, sess.sha256), io.LimitReader(body, want))
			n = int(m)
		} else {
			s.mu.Lock()
			if int64(cap(sess.received)-len(sess.received)) < want {
				grown := make([]byte, len(sess.received), max(int64(len(sess.received))+want, min(total, 1<<30)))
				copy(grown, sess.received)
				sess.received = grown
			}
			dst := sess.received[len(sess.received) : int64(len(sess.received))+want]
			s.mu.Unlock()
			n, rerr = io.ReadFull(io.LimitReader(body, want), dst)
			if rerr == io.ErrUnexpectedEOF || rerr == io.EOF {
				rerr = nil // a short chunk: the status tells the client
			}
			sess.md5.Write(dst[:n])
			sess.sha256.Write(dst[:n])
		}
		s.mu.Lock()
		if !s.KeepNoBytes {
			sess.received = sess.received[:int64(len(sess.received))+int64(n)]
		}
		sess.got += int64(n)
		s.mu.Unlock()
		if drop >= 0 {
			dropConnection(w)
			return
		}
		if rerr != nil {
			return
		}
	}
	s.mu.Lock()
	if total >= 0 {
		if sess.total >= 0 && sess.total != total {
			s.mu.Unlock()
			writeError(w, 400, "badRequest", "Content-Range total does not match the session's length.")
			return
		}
		sess.total = total
	}
	have = sess.got
	if sess.total >= 0 && have > sess.total {
		s.mu.Unlock()
		writeError(w, 400, "badRequest", "More bytes than the declared length.")
		return
	}
	if sess.total >= 0 && have == sess.total {
		meta := sess.meta
		f, code, msg := s.newFileLocked(&meta, content{b: sess.received, size: sess.got, dropped: s.KeepNoBytes, md5: hex.EncodeToString(sess.md5.Sum(nil)), sha256: hex.EncodeToString(sess.sha256.Sum(nil))})
		if f == nil {
			s.mu.Unlock()
			writeError(w, code, "invalid", msg)
			return
		}
		sess.done = f
		sess.received = nil
		s.mu.Unlock()
		writeJSON(w, s.driveFile(f, fieldSet(sess.fields)))
		return
	}
	s.mu.Unlock()
	if have > 0 {
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", have-1))
	}
	w.Header().Set("Content-Length", "0")
	if r.Header.Get("X-GUploader-No-308") == "yes" {
		w.Header().Set("X-Http-Status-Code-Override", "308")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusPermanentRedirect)
}

// ExpireSessions forgets every upload session, as Google does after a week.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*session{}
}

// SessionBytes returns how many bytes each open session has received.
func (s *Server) SessionBytes() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for id, ss := range s.sessions {
		if ss.done == nil {
			out[id] = ss.got
		}
	}
	return out
}

func (s *Server) pathLocked(f *file) string {
	var parts []string
	for seen := 0; f != nil && f.ID != rootID && seen < 1000; seen++ {
		parts = append(parts, f.Name)
		if len(f.Parents) == 0 {
			break
		}
		f = s.files[f.Parents[0]]
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return path.Join(parts...)
}

func (s *Server) info(f *file) FileInfo {
	fi := FileInfo{ID: f.ID, Name: f.Name, MimeType: f.MimeType, Path: s.pathLocked(f), Modified: f.Modified, AppProperties: map[string]string{}}
	for k, v := range f.AppProperties {
		fi.AppProperties[k] = v
	}
	if !f.folder() {
		fi.Size, fi.MD5, fi.SHA256 = f.size, f.md5, f.sha256
	}
	return fi
}

// Files lists every file and folder, sorted by path.
func (s *Server) Files() []FileInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []FileInfo
	for _, id := range sortedKeys(s.files) {
		if id != rootID {
			out = append(out, s.info(s.files[id]))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// FindFiles returns the files (not folders) at a slash path from the root;
// Drive allows several with one name.
func (s *Server) FindFiles(p string) []FileInfo {
	var out []FileInfo
	for _, f := range s.Files() {
		if f.Path == p && f.MimeType != FolderMIME {
			out = append(out, f)
		}
	}
	return out
}

// Content returns a file's bytes.
func (s *Server) Content(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil || f.dropped {
		return nil, false
	}
	return bytes.Clone(f.Content), true
}

// SetContent replaces a file's bytes in place (same id, same name); the
// checksums follow, as they would after an edit elsewhere.
func (s *Server) SetContent(id string, b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil || f.folder() {
		return false
	}
	f.setContent(newContent(bytes.Clone(b)))
	f.Modified = time.Now()
	return true
}

// DeleteFile removes a file, or a folder and everything under it.
func (s *Server) DeleteFile(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[id] == nil || id == rootID {
		return false
	}
	s.deleteLocked(id)
	return true
}

func (s *Server) deleteLocked(id string) {
	delete(s.files, id)
	for cid, c := range s.files {
		for _, p := range c.Parents {
			if p == id {
				s.deleteLocked(cid)
				break
			}
		}
	}
}
