// Package netfault gives the fake servers two network faults a real
// client meets: a connection reset before any answer, and an answer cut
// short (a Content-Length larger than the bytes sent, then the connection
// closes). It is test support: only the fakes under internal/*test use it.
package netfault

import (
	"bytes"
	"net/http"
	"strconv"
)

// Reset closes the connection without answering, as a reset or a dead
// proxy does. The request body is left unread.
func Reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	// Not hijackable (HTTP/2): abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}

// Recorder keeps a handler's answer so Truncate can send part of it.
type Recorder struct {
	hdr    http.Header
	status int
	body   bytes.Buffer
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{hdr: http.Header{}} }

func (r *Recorder) Header() http.Header { return r.hdr }

func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// Status is the recorded status (200 when the handler set none).
func (r *Recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Truncate sends the recorded answer's status and headers with a
// Content-Length larger than its body, half the body, and then closes the
// connection: the client reads an unexpected EOF after a good status line.
// The handler's work is done by then, so a retry meets its effects.
func (r *Recorder) Truncate(w http.ResponseWriter) {
	for k, v := range r.hdr {
		w.Header()[k] = v
	}
	body := r.body.Bytes()
	w.Header().Del("Content-Length")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+64))
	w.WriteHeader(r.Status())
	w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	Reset(w)
}
