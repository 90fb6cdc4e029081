package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a writer the command and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUIRefusesANonLoopbackAddress(t *testing.T) {
	setup(t)
	r := miexit(t, "ui", "--listen", "0.0.0.0:0", "--no-browser")
	if r.code != exitUsage || !strings.Contains(r.stderr, "loopback") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}

// TestUIServesThePageWithItsToken starts `miexit ui` as a person would,
// opens the address it printed and stops it with the interrupt.
func TestUIServesThePageWithItsToken(t *testing.T) {
	setup(t)
	var opened []string
	orig := openBrowser
	openBrowser = func(u string) error { opened = append(opened, u); return nil }
	t.Cleanup(func() { openBrowser = orig })
	ctx, stop := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"ui"}, &out, &errb) }()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{32}`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		addr = re.FindString(errb.String())
	}
	if addr == "" {
		stop()
		t.Fatalf("no address printed: %s", errb.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	bare := strings.SplitN(addr, "?", 2)[0]
	resp, err := c.Get(bare)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the token: %d, want 403", resp.StatusCode)
	}
	resp, err = c.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Where is your data?") {
		t.Errorf("with the token: %d", resp.StatusCode)
	}
	stop()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after the interrupt: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ui did not stop on the interrupt")
	}
	if len(opened) != 1 || opened[0] != addr {
		t.Errorf("browser opened %v, want %s", opened, addr)
	}
}
