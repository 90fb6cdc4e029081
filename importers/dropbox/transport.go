package dropbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf16"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/auth"

	"github.com/miexit/miexit/internal/retry"
)

// headerTransport fixes what the SDK (v6.6.3) gets wrong on the wire and
// remembers what it throws away:
//   - Dropbox-API-Arg carries raw UTF-8, but Dropbox wants HTTP-header-safe
//     JSON with non-ASCII escaped as \uXXXX (Chinese file names are
//     common here); the SDK's own helper is unused and mis-escapes runes
//     beyond the BMP, so the header is re-escaped here with UTF-16
//     surrogate pairs.
//   - The SDK drops the response's status and Retry-After header; they are
//     copied into the request's capture (see withCapture) so errors can be
//     classified and rate limits honoured even when a 429 body is not JSON.
//   - The SDK sends every upload with no length, so net/http sends it
//     chunked, copying each 32 KiB through the SDK's wrappers into a write
//     of its own; a call that says its body is a whole file (withFile) has
//     the file itself sent with its Content-Length, which net/http hands
//     to sendfile(2).
type headerTransport struct {
	base http.RoundTripper
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if a := req.Header.Get("Dropbox-API-Arg"); a != "" && !isASCII(a) {
		req = req.Clone(req.Context())
		req.Header.Set("Dropbox-API-Arg", escapeJSON(a))
	}
	if wf, ok := req.Context().Value(fileKey{}).(wholeFile); ok && req.Body != nil && req.ContentLength == 0 {
		r := *req
		// The file itself, not a wrapper: net/http unwraps only its own.
		// It closes it when sent; the caller's Close after that is a no-op.
		r.Body, r.ContentLength, r.GetBody = wf.f, wf.size, nil
		req = &r
	}
	resp, err := t.base.RoundTrip(req)
	if c, ok := req.Context().Value(captureKey{}).(*capture); ok && resp != nil {
		c.set(resp.StatusCode, retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return resp, err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// escapeJSON escapes every non-ASCII rune of a JSON text as \uXXXX. Inside
// JSON strings that is an equivalent spelling; outside them JSON has no
// non-ASCII at all.
func escapeJSON(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

type fileKey struct{}

// wholeFile is an upload's body: all of f, size bytes, from its start.
type wholeFile struct {
	f    *os.File
	size int64
}

// withFile says that the upload made with ctx sends all of f, as just
// opened, as its body.
func withFile(ctx context.Context, f *os.File) (context.Context, error) {
	st, err := f.Stat()
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, fileKey{}, wholeFile{f: f, size: st.Size()}), nil
}

type captureKey struct{}

// capture holds the last HTTP status and Retry-After of one call.
type capture struct {
	mu     sync.Mutex
	status int
	after  time.Duration
}

func (c *capture) set(status int, after time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status, c.after = status, after
}

func (c *capture) get() (int, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.after
}

func withCapture(ctx context.Context) (context.Context, *capture) {
	c := &capture{}
	return context.WithValue(ctx, captureKey{}, c), c
}

// ErrAuth means Dropbox refused the access token.
var ErrAuth = errors.New("dropbox refused the access token; sign in again with `miexit auth dropbox`")

// classify turns an SDK error into what internal/retry understands: a
// retry.After for 429 (header or body, the longer), a plain retryable
// error for 5xx, too_many_write_operations and network failures, and a
// permanent error for everything else.
func classify(ctx context.Context, err error, c *capture) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	status, after := c.get()
	var rl auth.RateLimitAPIError
	if errors.As(err, &rl) && rl.RateLimitError != nil {
		after = max(after, time.Duration(rl.RateLimitError.RetryAfter)*time.Second)
		status = http.StatusTooManyRequests
	}
	switch {
	case status == http.StatusTooManyRequests:
		if after <= 0 {
			after = 5 * time.Second
		}
		return &retry.After{Err: err, Delay: after}
	case status == http.StatusUnauthorized:
		return retry.Permanent(fmt.Errorf("%w (%v)", ErrAuth, err))
	case status >= 500 || errors.As(err, new(auth.ServerError)):
		if after > 0 {
			return &retry.After{Err: err, Delay: after}
		}
		return err
	case strings.Contains(err.Error(), "too_many_write_operations"), strings.Contains(err.Error(), "internal_error"):
		return err
	case status == 0:
		// No response at all: a network failure worth another try.
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		// A good status but the answer was cut short: the call may have
		// done its work, which every caller's retry checks for.
		return err
	}
	return retry.Permanent(err)
}
