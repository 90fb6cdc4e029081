package webdav

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/miexit/miexit/internal/retry"
)

// retryQuick retries as the real policy does, without the waits.
func retryQuick() retry.Policy {
	return retry.Policy{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond, Pacer: &retry.Pacer{},
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
}

// readBody reads a request's body and leaves it in place for the proxy.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}
