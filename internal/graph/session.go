package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/retry"
)

// FragmentUnit is the size every fragment but the last must be a multiple
// of (320 KiB); Graph also refuses fragments of 60 MiB or more.
const (
	FragmentUnit = 320 << 10
	MaxFragment  = 60 << 20
)

// ErrSessionGone means an upload session no longer exists: it expired, was
// cancelled, or already completed. The caller checks the destination and
// starts a new session if the file is not there.
var ErrSessionGone = errors.New("upload session gone")

// UploadSession is Graph's answer to createUploadSession and to a status
// query on its uploadUrl.
type UploadSession struct {
	UploadURL          string    `json:"uploadUrl,omitempty"`
	ExpirationDateTime time.Time `json:"expirationDateTime,omitzero"`
	NextExpectedRanges []string  `json:"nextExpectedRanges,omitempty"`
}

// Next is the first byte the session still expects; ok is false when it
// expects none.
func (s *UploadSession) Next() (off int64, ok bool, err error) {
	if len(s.NextExpectedRanges) == 0 {
		return 0, false, nil
	}
	a, _, _ := strings.Cut(s.NextExpectedRanges[0], "-")
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("bad nextExpectedRanges %q", s.NextExpectedRanges)
	}
	return n, true, nil
}

// CreateUploadSession starts a resumable upload to p under root, with the
// file's dates set now (a session's item carries them to the file).
func (c *Client) CreateUploadSession(ctx context.Context, root, p, conflict string, fsi FileSystemInfo) (*UploadSession, error) {
	body := map[string]any{"item": map[string]any{
		"@microsoft.graph.conflictBehavior": conflict,
		"fileSystemInfo":                    fsi,
	}}
	var s UploadSession
	if err := c.do(ctx, "create upload session "+p, c.api, c.jsonReq(http.MethodPost, sub(root, p, "createUploadSession"), body), &s); err != nil {
		return nil, err
	}
	if s.UploadURL == "" {
		return nil, fmt.Errorf("graph create upload session %s: answer has no uploadUrl", p)
	}
	return &s, nil
}

// SessionStatus asks an upload session which bytes it still expects. The
// uploadUrl is pre-authenticated: no token is sent to it. A session that is
// gone gives an error wrapping ErrSessionGone.
func (c *Client) SessionStatus(ctx context.Context, uploadURL string) (*UploadSession, error) {
	var s UploadSession
	err := c.do(ctx, "upload session status", c.raw, c.jsonReq(http.MethodGet, uploadURL, nil), &s)
	if IsNotFound(err) {
		return nil, fmt.Errorf("%w: %w", ErrSessionGone, err)
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// CancelSession deletes an upload session and the bytes it holds.
func (c *Client) CancelSession(ctx context.Context, uploadURL string) error {
	err := c.do(ctx, "cancel upload session", c.raw, c.jsonReq(http.MethodDelete, uploadURL, nil), nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// putFragment sends bytes [off, off+n) of total once. It answers the
// session's state, or the item once the last byte is in.
func (c *Client) putFragment(ctx context.Context, uploadURL string, r io.ReaderAt, off, n, total int64) (*UploadSession, *Item, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, io.NewSectionReader(r, off, n))
	if err != nil {
		return nil, nil, retry.Permanent(err)
	}
	req.ContentLength = n
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, total))
	resp, err := c.raw.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := classify(resp); err != nil {
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusAccepted {
		var s UploadSession
		if err := decode(resp.Body, &s); err != nil {
			return nil, nil, err
		}
		return &s, nil, nil
	}
	var it Item
	if err := decode(resp.Body, &it); err != nil {
		return nil, nil, err
	}
	return nil, &it, nil
}

// Upload sends r's bytes from start to total through the session at
// uploadURL, in fragments of fragSize (rounded down to a multiple of
// FragmentUnit, under MaxFragment). After each fragment Graph accepted it
// calls saved with the next offset, so a caller can record it before
// going on. When a fragment fails, it asks the session where to resume
// (the fragment may have arrived after all) and retries per the policy.
// It returns the finished item, or an error wrapping ErrSessionGone.
func (c *Client) Upload(ctx context.Context, uploadURL string, r io.ReaderAt, total, start, fragSize int64, saved func(next int64) error) (*Item, error) {
	fragSize = fragSize / FragmentUnit * FragmentUnit
	if fragSize <= 0 {
		fragSize = FragmentUnit
	}
	if fragSize >= MaxFragment {
		fragSize = MaxFragment - FragmentUnit
	}
	off := start
	for {
		if off >= total {
			// Every byte went in but the answer with the item was lost.
			return nil, fmt.Errorf("graph upload: %w: every byte sent, no item returned", ErrSessionGone)
		}
		var done *Item
		err := c.policy.Do(ctx, fmt.Sprintf("upload fragment at %d", off), func(ctx context.Context) error {
			n := min(fragSize, total-off)
			s, it, err := c.putFragment(ctx, uploadURL, r, off, n, total)
			if err == nil {
				if it != nil {
					done = it
					return nil
				}
				next, ok, perr := s.Next()
				if perr != nil || !ok || next <= off {
					return retry.Permanent(fmt.Errorf("session answered %v after bytes %d-%d", s.NextExpectedRanges, off, off+n-1))
				}
				off = next
				return nil
			}
			var gerr *Error
			isRange := errors.As(err, &gerr) && gerr.Status == http.StatusRequestedRangeNotSatisfiable
			if IsNotFound(err) {
				return retry.Permanent(fmt.Errorf("%w: %w", ErrSessionGone, err))
			}
			if retry.IsPermanent(err) && !isRange {
				return err
			}
			// Unknown outcome: realign on what the session holds.
			st, serr := c.SessionStatus(ctx, uploadURL)
			switch {
			case errors.Is(serr, ErrSessionGone):
				return retry.Permanent(serr)
			case serr == nil:
				if next, ok, _ := st.Next(); ok {
					off = next
				}
			}
			if isRange {
				return gerr // retry from the realigned offset
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("graph upload: %w", err)
		}
		if done != nil {
			return done, nil
		}
		if saved != nil {
			if err := saved(off); err != nil {
				return nil, err
			}
		}
	}
}

func decode(r io.Reader, v any) error {
	if err := jsonDecode(r, v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
