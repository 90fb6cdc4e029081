// Package retry is miexit's one place for backoff: exponential with jitter,
// Retry-After honoured (even when it is minutes), a shared pause so every
// worker waits when a server says "slow down", and permanent errors that
// stop at once.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// permanent wraps an error that must not be retried.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying (a 4xx, a bad input).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// After is an error that carries the server's Retry-After.
type After struct {
	Err   error
	Delay time.Duration
}

func (a *After) Error() string { return fmt.Sprintf("%v (retry after %s)", a.Err, a.Delay) }
func (a *After) Unwrap() error { return a.Err }

// Pacer is a pause shared by every worker talking to one service: when any
// of them is told to wait, all of them wait, as Graph and Dropbox ask.
type Pacer struct {
	mu    sync.Mutex
	until time.Time
}

// PauseFor makes every Wait block for at least d from now.
func (p *Pacer) PauseFor(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := time.Now().Add(d); t.After(p.until) {
		p.until = t
	}
}

// Wait blocks until the shared pause is over or ctx ends.
func (p *Pacer) Wait(ctx context.Context) error { return p.wait(ctx, sleep) }

func (p *Pacer) wait(ctx context.Context, sl func(context.Context, time.Duration) error) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	d := time.Until(p.until)
	p.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	return sl(ctx, d)
}

// Policy says how often and how long to retry.
type Policy struct {
	// Attempts is the total number of tries (default 8).
	Attempts int
	// Base and Max bound the exponential backoff (defaults 500 ms, 60 s;
	// MIEXIT_RETRY_BASE, a Go duration, replaces the default Base so the
	// fault-injection tests of the whole binary do not sleep for minutes).
	Base, Max time.Duration
	// MaxAfter caps a server's Retry-After (default 15 minutes); a longer
	// demand fails with the server's message instead of hanging.
	MaxAfter time.Duration
	// Pacer, when set, is paused for every Retry-After so other workers wait too.
	Pacer *Pacer
	// Sleep replaces the real sleep in tests.
	Sleep func(ctx context.Context, d time.Duration) error
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do runs fn until it succeeds, fails permanently, runs out of attempts, or
// ctx ends. op names the call in the final error.
func (p Policy) Do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 8
	}
	base, maxd, maxAfter := p.Base, p.Max, p.MaxAfter
	if base <= 0 {
		base = defaultBase()
	}
	if maxd <= 0 {
		maxd = 60 * time.Second
	}
	if maxAfter <= 0 {
		maxAfter = 15 * time.Minute
	}
	sl := p.Sleep
	if sl == nil {
		sl = sleep
	}
	var err error
	for i := 0; i < attempts; i++ {
		if werr := p.Pacer.wait(ctx, sl); werr != nil {
			return werr
		}
		err = fn(ctx)
		if err == nil {
			return nil
		}
		if IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		if i == attempts-1 {
			break
		}
		d := backoff(base, maxd, i)
		var after *After
		if errors.As(err, &after) && after.Delay > 0 {
			if after.Delay > maxAfter {
				return fmt.Errorf("%s: the server asked to wait %s, longer than the %s limit: %w", op, after.Delay, maxAfter, err)
			}
			d = after.Delay
			if p.Pacer != nil {
				// The pause itself is the wait: Wait at the loop's top
				// sleeps it, for this worker and every other.
				p.Pacer.PauseFor(d)
				continue
			}
		}
		if serr := sl(ctx, d); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("%s: gave up after %d attempts: %w", op, attempts, err)
}

// defaultBase is 500 ms unless MIEXIT_RETRY_BASE says otherwise.
var defaultBase = sync.OnceValue(func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("MIEXIT_RETRY_BASE")); err == nil && d > 0 {
		return d
	}
	return 500 * time.Millisecond
})

// backoff is base*2^i with full jitter in [d/2, d], capped at max.
func backoff(base, maxd time.Duration, i int) time.Duration {
	d := base << min(i, 20)
	if d > maxd || d <= 0 {
		d = maxd
	}
	return d/2 + rand.N(d/2+1)
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Retryable reports whether an HTTP status is worth retrying: 408, 425,
// 429 and every 5xx but 501.
func Retryable(status int) bool {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return true
	case status >= 500 && status != http.StatusNotImplemented:
		return true
	}
	return false
}

// Classify turns an HTTP response's status into nil (2xx/3xx), a retryable
// error (carrying Retry-After), or a permanent error. msg is the service's
// own error text, which is kept because it tells a person what to do.
func Classify(resp *http.Response, msg string) error {
	if resp.StatusCode < 400 {
		return nil
	}
	err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	if !Retryable(resp.StatusCode) {
		return Permanent(err)
	}
	if d := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); d > 0 {
		return &After{Err: err, Delay: d}
	}
	return err
}
