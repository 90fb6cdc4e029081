// Package transport builds the HTTP transport every remote destination
// uses: http.DefaultTransport's settings, tuned for a few uploads at once.
package transport

import (
	"net/http"
	"time"
)

// HeaderTimeout is how long a request waits for its answer's headers. A
// long upload has no overall limit (a 64 MiB chunk on a slow uplink takes
// long), but a server that takes a request and never answers does not
// hang the run.
const HeaderTimeout = 5 * time.Minute

// ForWorkers returns a transport for workers requests at once (default
// 4). Each keeps its connection between requests: http.DefaultTransport
// keeps two idle a host, so with four workers two connections were closed
// and opened again around every request, a TLS handshake each. The write
// buffer is large, so an upload's body goes out in few writes (Drive's
// multipart pieces, Dropbox's chunked bodies).
func ForWorkers(workers int) *http.Transport {
	if workers <= 0 {
		workers = 4
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = workers + 2
	t.ResponseHeaderTimeout = HeaderTimeout
	t.WriteBufferSize = 256 << 10
	return t
}
