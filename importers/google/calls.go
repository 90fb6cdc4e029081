package google

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/miexit/miexit/internal/retry"
)

// call runs fn under the retry policy, sorting Google's errors into those
// worth another try (429, 403 rate limits, 5xx, cut connections) and those
// that are not (every other 4xx, with the API's own message).
func (im *Importer) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return im.pol.Do(ctx, op, func(ctx context.Context) error {
		return classify(fn(ctx))
	})
}

// rateLimitReasons are the 403 reasons Google documents as "slow down".
// mutate is call for People writes: they run one at a time (the caller
// holds no other mutate) and, when configured, no closer than writeGap.
func (im *Importer) mutate(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return im.call(ctx, op, func(ctx context.Context) error {
		if im.writeGap > 0 {
			if wait := time.Until(im.lastWrite.Add(im.writeGap)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
			im.lastWrite = time.Now()
		}
		return fn(ctx)
	})
}

var rateLimitReasons = map[string]bool{"rateLimitExceeded": true, "userRateLimitExceeded": true}

// apiError is a Google API error as miexit says it, with the
// *googleapi.Error kept underneath for errors.As (isNotFound).
type apiError struct {
	msg string
	ge  *googleapi.Error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.ge }

func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		msg := ge.Message
		if msg == "" {
			msg = http.StatusText(ge.Code)
		}
		e := &apiError{msg: fmt.Sprintf("HTTP %d: %s", ge.Code, msg), ge: ge}
		if ge.Code == http.StatusUnauthorized {
			return retry.Permanent(fmt.Errorf("%w: %w", ErrAuth, e))
		}
		retryable := retry.Retryable(ge.Code)
		if ge.Code == http.StatusForbidden {
			for _, it := range ge.Errors {
				if rateLimitReasons[it.Reason] {
					retryable = true
				}
			}
		}
		if !retryable {
			return retry.Permanent(e)
		}
		if d := retry.ParseRetryAfter(ge.Header.Get("Retry-After"), time.Now()); d > 0 {
			return &retry.After{Err: e, Delay: d}
		}
		return e
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.classify()
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return err
	}
	// Connection resets and unexpected EOFs surface as plain errors from
	// net/http; they are transient too.
	return err
}

// statusError is an HTTP error from miexit's own requests (the resumable
// upload), read into Google's error shape.
type statusError struct {
	code   int
	reason string
	msg    string
	after  string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.msg) }

func (e *statusError) classify() error {
	if e.code == http.StatusUnauthorized {
		return retry.Permanent(fmt.Errorf("%w: %w", ErrAuth, e))
	}
	retryable := retry.Retryable(e.code) || (e.code == http.StatusForbidden && rateLimitReasons[e.reason])
	if !retryable {
		return retry.Permanent(e)
	}
	if d := retry.ParseRetryAfter(e.after, time.Now()); d > 0 {
		return &retry.After{Err: e, Delay: d}
	}
	return e
}

// ErrAuth means Google refused the token: it was revoked, expired without a
// refresh token, or belongs to another client.
var ErrAuth = errors.New("Google refused the sign-in; run `miexit auth google` again")
