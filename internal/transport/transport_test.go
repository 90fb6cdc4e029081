package transport

import (
	"net/http"
	"testing"
)

// The transport keeps a connection for each worker and two spare, and
// gives up on an answer that never comes, for any worker count asked.
func TestForWorkers(t *testing.T) {
	for workers, want := range map[int]int{0: 6, 1: 3, 4: 6, 8: 10} {
		tr := ForWorkers(workers)
		if tr.MaxIdleConnsPerHost != want {
			t.Errorf("ForWorkers(%d) keeps %d idle connections a host, want %d", workers, tr.MaxIdleConnsPerHost, want)
		}
		if tr.ResponseHeaderTimeout != HeaderTimeout {
			t.Errorf("ForWorkers(%d) waits %s for headers, want %s", workers, tr.ResponseHeaderTimeout, HeaderTimeout)
		}
		if tr.Proxy == nil {
			t.Errorf("ForWorkers(%d) dropped http.DefaultTransport's proxy from the environment", workers)
		}
	}
	if ForWorkers(4) == http.DefaultTransport {
		t.Error("ForWorkers returned the shared default transport")
	}
}
