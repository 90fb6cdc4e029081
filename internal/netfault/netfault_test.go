package netfault

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestResetGivesTheClientAnErrorAndNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Reset(w) }))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("hello"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a reset connection gave status %d", resp.StatusCode)
	}
}

func TestTruncateSendsAGoodStatusAndAShortBody(t *testing.T) {
	const answer = `{"id":"abc","name":"a file with a long enough name"}`
	ran := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := NewRecorder()
		ran++
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(http.StatusCreated)
		io.WriteString(rec, answer)
		rec.Truncate(w)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, type %q: the recorded answer's head was not sent", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the body: %v, want an unexpected EOF", err)
	}
	if len(b) >= len(answer) || !strings.HasPrefix(answer, string(b)) {
		t.Errorf("got %q, want a strict prefix of the answer", b)
	}
	if ran != 1 {
		t.Errorf("handler ran %d times", ran)
	}
}
