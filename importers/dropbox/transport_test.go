package dropbox

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/files"
)

// An upload whose call says it sends a whole file goes with that file's
// Content-Length (so net/http can hand it to sendfile), not chunked; any
// other body is left as the SDK made it.
func TestAWholeFileUploadGoesWithItsLength(t *testing.T) {
	data := strings.Repeat("photo bytes ", 10000)
	type seen struct {
		length  int64
		chunked bool
		body    string
		readErr error
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- seen{r.ContentLength, len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked", string(b), err}
	}))
	defer srv.Close()
	p := filepath.Join(t.TempDir(), "a.jpg")
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: headerTransport{base: http.DefaultTransport}}
	send := func(whole bool) seen {
		t.Helper()
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ctx := context.Background()
		if whole {
			if ctx, err = withFile(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		// The SDK's body: the file behind its own wrapper, no length.
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, files.WithoutAutoContentHash(f))
		if err != nil {
			t.Fatal(err)
		}
		req.Body = io.NopCloser(req.Body)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return <-got
	}
	if s := send(true); s.readErr != nil || s.body != data || s.length != int64(len(data)) || s.chunked {
		t.Errorf("whole file: length %d, chunked %v, %d bytes (%v); want length %d, not chunked, the file", s.length, s.chunked, len(s.body), s.readErr, len(data))
	}
	if s := send(false); s.readErr != nil || s.body != data || !s.chunked {
		t.Errorf("other body: length %d, chunked %v, %d bytes (%v); want it sent as the SDK made it (chunked)", s.length, s.chunked, len(s.body), s.readErr)
	}
}
