package google

// miexit's own resumable upload (Drive's documented protocol), because the
// Go client never exposes its session URI: the session and the confirmed
// offset live in the ledger, written durably before any byte is sent, so a
// crash loses at most one chunk.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/api/drive/v3"

	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// Ledger Extra keys of an upload in progress.
const (
	exSession = "session"
	exSHA256  = "session_sha256"
	exOffset  = "offset"
)

// errSessionGone means Google forgot the session (404/410, after a week):
// the upload starts over.
var errSessionGone = errors.New("upload session expired")

// chunkResult is what Drive said about a chunk or a status query.
type chunkResult struct {
	done   *drive.File
	offset int64 // bytes Drive holds, when not done
}

func (im *Importer) uploadResumable(ctx context.Context, snap snapshot.Files, led *ledger.Ledger, e mapping.Entry, meta *drive.File) (*drive.File, string, error) {
	f, err := snap.Open(e.Path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	size := st.Size()
	dest := im.dest

	var sess string
	var res chunkResult
	if rec, ok, err := led.Get(dest, e.Path); err != nil {
		return nil, "", err
	} else if ok && rec.Extra[exSession] != "" && rec.Extra[exSHA256] == e.SHA256 {
		sess = rec.Extra[exSession]
		err := im.call(ctx, "upload status", func(ctx context.Context) error {
			var err error
			res, err = im.sendChunk(ctx, sess, nil, "", 0, 0, size)
			return err
		})
		switch {
		case errors.Is(err, errSessionGone):
			sess = ""
		case err != nil:
			return nil, "", err
		default:
			im.log.Info("resuming upload", "path", e.Path, "offset", res.offset, "size", size)
		}
	}
	if sess == "" {
		err := im.call(ctx, "start upload", func(ctx context.Context) error {
			var err error
			sess, err = im.startSession(ctx, meta, size)
			return err
		})
		if err != nil {
			return nil, "", err
		}
		// Durable before the first byte: a crash from here on resumes.
		rec := ledger.Record{Extra: map[string]string{exSession: sess, exSHA256: e.SHA256, exOffset: "0"}}
		if err := led.PutNow(dest, e.Path, rec); err != nil {
			return nil, "", err
		}
		res = chunkResult{}
	}

	for res.done == nil {
		off := res.offset
		n := min(im.chunk, size-off)
		needStatus := false
		err := im.call(ctx, "upload chunk", func(ctx context.Context) error {
			if needStatus {
				// After a cut, ask what arrived before sending again.
				r, err := im.sendChunk(ctx, sess, nil, "", 0, 0, size)
				if err != nil {
					return err
				}
				if r.done != nil || r.offset != off {
					res = r
					return nil
				}
			}
			needStatus = true
			r, err := im.sendChunk(ctx, sess, snap, e.Path, off, n, size)
			if err != nil {
				return err
			}
			res = r
			return nil
		})
		if errors.Is(err, errSessionGone) {
			led.Delete(dest, e.Path)
			return nil, "", fmt.Errorf("%w; the next run starts it again", err)
		}
		if err != nil {
			return nil, "", err
		}
		if res.done == nil {
			if res.offset < 0 || res.offset > size {
				return nil, "", fmt.Errorf("drive reports %d bytes received of %d", res.offset, size)
			}
			rec := ledger.Record{Extra: map[string]string{exSession: sess, exSHA256: e.SHA256, exOffset: strconv.FormatInt(res.offset, 10)}}
			if err := led.Put(dest, e.Path, rec); err != nil {
				return nil, "", err
			}
		}
	}
	md, err := im.check(ctx, snap, e, res.done)
	if err != nil {
		led.Delete(dest, e.Path)
		return nil, "", err
	}
	return res.done, md, nil
}

// startSession opens a session and returns its URI.
func (im *Importer) startSession(ctx context.Context, meta *drive.File, size int64) (string, error) {
	body, err := json.Marshal(meta)
	if err != nil {
		return "", err
	}
	u := im.uploadURL + "?uploadType=resumable&fields=" + url.QueryEscape(fileFields)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("X-Upload-Content-Type", meta.MimeType)
	req.Header.Set("X-Upload-Content-Length", strconv.FormatInt(size, 10))
	resp, err := im.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", readError(resp)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", errors.New("drive opened an upload session without a Location")
	}
	return loc, nil
}

// sendChunk sends bytes [off, off+n) of the snapshot file rel, or with
// snap nil asks for the session's status.
//
// Each send has a descriptor of its own, handed to net/http as the body
// itself: a file with a Content-Length goes out through sendfile(2), where
// a reader around it (a SectionReader) was read into memory and written
// out again (media -> fake Drive, the videos' 100 MB in 16 chunks:
// miexit's CPU 0.46-0.50 -> 0.44-0.47 s). The transport closes it, also
// when it is still sending after a failed try has returned, so a retry
// never shares its offset.
func (im *Importer) sendChunk(ctx context.Context, sess string, snap snapshot.Files, rel string, off, n, size int64) (chunkResult, error) {
	var body io.Reader = http.NoBody
	cr := fmt.Sprintf("bytes */%d", size)
	send := snap != nil && n > 0
	if send {
		f, err := snap.Open(rel)
		if err != nil {
			return chunkResult{}, retry.Permanent(err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return chunkResult{}, retry.Permanent(err)
		}
		body = &section{f: f, end: off + n}
		cr = fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, sess, body)
	if err != nil {
		if c, ok := body.(io.Closer); ok {
			c.Close()
		}
		return chunkResult{}, err
	}
	if send {
		req.ContentLength = n
	}
	req.Header.Set("Content-Range", cr)
	// As the Go client does: "incomplete" then comes as 200 with an
	// override header instead of a bare 308.
	req.Header.Set("X-GUploader-No-308", "yes")
	resp, err := im.hc.Do(req)
	if err != nil {
		return chunkResult{}, err
	}
	defer resp.Body.Close()
	incomplete := resp.StatusCode == http.StatusPermanentRedirect ||
		(resp.StatusCode == http.StatusOK && resp.Header.Get("X-Http-Status-Code-Override") == "308")
	switch {
	case incomplete:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return chunkResult{offset: parseRange(resp.Header.Get("Range"))}, nil
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
		var f drive.File
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&f); err != nil {
			return chunkResult{}, fmt.Errorf("drive's answer to the last chunk: %w", err)
		}
		return chunkResult{done: &f}, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return chunkResult{}, errSessionGone
	}
	return chunkResult{}, readError(resp)
}

// section is bytes [pos, end) of a file, pos being the file's own
// position: net/http, finding a syscall.Conn under its length limit,
// sends the first n bytes with sendfile(2), which moves that position, and
// then reads on to check that the body ends there. Reads keep to end
// however the position got where it is.
type section struct {
	f   *os.File
	end int64
}

func (s *section) Read(p []byte) (int, error) {
	pos, err := s.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if pos >= s.end {
		return 0, io.EOF
	}
	if int64(len(p)) > s.end-pos {
		p = p[:s.end-pos]
	}
	return s.f.Read(p)
}

func (s *section) SyscallConn() (syscall.RawConn, error) { return s.f.SyscallConn() }

func (s *section) Close() error { return s.f.Close() }

// parseRange reads "bytes=0-N" into N+1; no header means nothing arrived.
func parseRange(v string) int64 {
	_, rng, ok := strings.Cut(v, "=")
	if !ok {
		return 0
	}
	_, last, ok := strings.Cut(rng, "-")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(last, 10, 64)
	if err != nil {
		return 0
	}
	return n + 1
}

// readError turns Google's JSON error into a statusError.
func readError(resp *http.Response) error {
	var doc struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	e := &statusError{code: resp.StatusCode, after: resp.Header.Get("Retry-After")}
	if json.Unmarshal(b, &doc) == nil && doc.Error.Message != "" {
		e.msg = doc.Error.Message
		if len(doc.Error.Errors) > 0 {
			e.reason = doc.Error.Errors[0].Reason
		}
	} else {
		e.msg = http.StatusText(resp.StatusCode)
	}
	return e
}
