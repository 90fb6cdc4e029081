package retry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDoRetriesThenSucceeds(t *testing.T) {
	var slept []time.Duration
	p := Policy{Attempts: 5, Base: time.Second, Max: 8 * time.Second, Sleep: func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}}
	n := 0
	err := p.Do(context.Background(), "op", func(context.Context) error {
		n++
		if n < 4 {
			return errors.New("transient")
		}
		return nil
	})
	if err != nil || n != 4 || len(slept) != 3 {
		t.Fatalf("err=%v n=%d slept=%v", err, n, slept)
	}
	for i, d := range slept {
		hi := time.Second << i
		if d < hi/2 || d > hi {
			t.Errorf("backoff %d = %s, want in [%s, %s]", i, d, hi/2, hi)
		}
	}
}

func TestDoHonoursRetryAfterAndPausesEveryone(t *testing.T) {
	pacer := &Pacer{}
	var slept []time.Duration
	p := Policy{Pacer: pacer, Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	n := 0
	err := p.Do(context.Background(), "op", func(context.Context) error {
		n++
		if n == 1 {
			return &After{Err: errors.New("429"), Delay: 300 * time.Second}
		}
		return nil
	})
	if err != nil || len(slept) != 1 || slept[0] < 299*time.Second || slept[0] > 300*time.Second {
		t.Fatalf("err=%v slept=%v", err, slept)
	}
	pacer.mu.Lock()
	left := time.Until(pacer.until)
	pacer.mu.Unlock()
	if left < 250*time.Second {
		t.Fatalf("pacer not paused for the others: %s left", left)
	}
}

func TestDoStopsOnPermanentAndOnLongRetryAfter(t *testing.T) {
	p := Policy{Sleep: func(context.Context, time.Duration) error { return nil }}
	n := 0
	err := p.Do(context.Background(), "op", func(context.Context) error { n++; return Permanent(errors.New("400 bad")) })
	if n != 1 || !IsPermanent(err) {
		t.Fatalf("permanent retried: n=%d err=%v", n, err)
	}
	p.MaxAfter = time.Minute
	err = p.Do(context.Background(), "upload x", func(context.Context) error {
		return &After{Err: errors.New("429"), Delay: time.Hour}
	})
	if err == nil || !strings.Contains(err.Error(), "upload x") || !strings.Contains(err.Error(), "1h0m0s") {
		t.Fatalf("long Retry-After: %v", err)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		status    int
		after     string
		retry     bool
		wantDelay time.Duration
	}{
		{200, "", false, 0},
		{404, "", false, 0},
		{429, "41", true, 41 * time.Second},
		{503, "", true, 0},
		{501, "", false, 0},
	}
	for _, c := range cases {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{}}
		if c.after != "" {
			resp.Header.Set("Retry-After", c.after)
		}
		err := Classify(resp, "msg")
		if c.status < 400 {
			if err != nil {
				t.Errorf("%d: %v", c.status, err)
			}
			continue
		}
		if IsPermanent(err) == c.retry {
			t.Errorf("%d: permanent=%v", c.status, IsPermanent(err))
		}
		var a *After
		if errors.As(err, &a) != (c.wantDelay > 0) || (a != nil && a.Delay != c.wantDelay) {
			t.Errorf("%d: after=%v", c.status, a)
		}
	}
}
