package oauthcli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// person plays the browser step by step: open records the authorization
// URL's redirect and state, then calls steps while the flow waits.
type person struct {
	p        *provider
	redirect *url.URL
	state    string
	done     chan struct{} // closed when steps returned
}

func newPerson(p *provider) *person { return &person{p: p, done: make(chan struct{})} }

// wait waits for the steps: the flow can end before the browser has read
// its answer.
func (b *person) wait() { <-b.done }

func (b *person) open(t *testing.T, steps func(b *person)) func(string) error {
	return func(u string) error {
		pu, err := url.Parse(u)
		if err != nil {
			return err
		}
		q := pu.Query()
		b.p.mu.Lock()
		b.p.challenge = q.Get("code_challenge")
		b.p.mu.Unlock()
		if b.redirect, err = url.Parse(q.Get("redirect_uri")); err != nil {
			return err
		}
		b.state = q.Get("state")
		go func() {
			defer close(b.done)
			steps(b)
		}()
		return nil
	}
}

// call sends a redirect with the query given and returns the status and
// page; a connection failure is returned as err.
func (b *person) call(query url.Values) (int, string, error) {
	resp, err := http.Get(b.redirect.String() + "?" + query.Encode())
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(page), nil
}

func TestListenerBindsLoopbackOnly(t *testing.T) {
	p := newProvider(t)
	b := newPerson(p)
	var reached []string
	f := &Flow{Config: p.config(), Open: b.open(t, func(b *person) {
		port := b.redirect.Port()
		targets := []string{net.JoinHostPort("::1", port)}
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				targets = append(targets, net.JoinHostPort(ipn.IP.String(), port))
			}
		}
		for _, addr := range targets {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				reached = append(reached, addr)
			}
		}
		b.call(url.Values{"code": {"good-code"}, "state": {b.state}})
	})}
	_, err := f.Run(context.Background())
	b.wait()
	if err != nil {
		t.Fatal(err)
	}
	if b.redirect.Hostname() != "127.0.0.1" {
		t.Errorf("redirect_uri host %q, want 127.0.0.1", b.redirect.Hostname())
	}
	if len(reached) > 0 {
		t.Errorf("the redirect listener answers on %v, not only on 127.0.0.1", reached)
	}
}

func TestWrongOrMissingStateIsRefusedAndTheFlowWaitsOn(t *testing.T) {
	p := newProvider(t)
	b := newPerson(p)
	type answer struct {
		what   string
		status int
		err    error
	}
	var got []answer
	f := &Flow{Config: p.config(), Open: b.open(t, func(b *person) {
		for _, c := range []struct {
			what string
			q    url.Values
		}{
			{"wrong state", url.Values{"code": {"good-code"}, "state": {b.state + "x"}}},
			{"missing state", url.Values{"code": {"good-code"}}},
			{"empty state", url.Values{"code": {"good-code"}, "state": {""}}},
			{"access_denied with a wrong state", url.Values{"error": {"access_denied"}, "state": {"forged"}}},
		} {
			status, _, err := b.call(c.q)
			got = append(got, answer{c.what, status, err})
		}
		b.call(url.Values{"code": {"good-code"}, "state": {b.state}})
	})}
	tok, err := f.Run(context.Background())
	b.wait()
	if err != nil {
		t.Fatalf("the real redirect after refused ones: %v", err)
	}
	if tok.AccessToken != "at-1" {
		t.Errorf("token %+v", tok)
	}
	for _, a := range got {
		if a.err != nil || a.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, err %v; want 400", a.what, a.status, a.err)
		}
	}
	if n := p.exchanges.Load(); n != 1 {
		t.Errorf("%d code exchanges, want 1 (only the real redirect's)", n)
	}
}

func TestAccessDeniedEndsWithAClearErrorAndClosesTheListener(t *testing.T) {
	p := newProvider(t)
	b := newPerson(p)
	var status int
	f := &Flow{Config: p.config(), Open: b.open(t, func(b *person) {
		status, _, _ = b.call(url.Values{"error": {"access_denied"}, "state": {b.state}})
	})}
	_, err := f.Run(context.Background())
	b.wait()
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	for _, want := range []string{"refused", "miexit auth", "again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %q", err, want)
		}
	}
	if p.exchanges.Load() != 0 {
		t.Error("a refused sign-in exchanged a code")
	}
	if status != http.StatusBadRequest {
		t.Errorf("the refused redirect's page has status %d, want 400", status)
	}
	if _, _, err := b.call(url.Values{"code": {"good-code"}, "state": {b.state}}); err == nil {
		t.Error("the redirect listener still answers after a refused sign-in")
	}
}

func TestOtherErrorCodesAreShownPlainly(t *testing.T) {
	p := newProvider(t)
	b := newPerson(p)
	f := &Flow{Config: p.config(), Open: b.open(t, func(b *person) {
		b.call(url.Values{"error": {"server_error\x1b[2J" + strings.Repeat("A", 500)}, "state": {b.state}})
	})}
	_, err := f.Run(context.Background())
	b.wait()
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	if strings.ContainsRune(err.Error(), 0x1b) || len(err.Error()) > 200 || !strings.Contains(err.Error(), "server_error") {
		t.Errorf("error from the redirect not kept short and plain: %q", err)
	}
}

// syncBuffer is an io.Writer the flow and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// The authorization code reaches neither the terminal, nor the error, nor
// the page shown in the browser: for a good code and for a refused one.
func TestTheCodeIsNeverPrinted(t *testing.T) {
	for _, code := range []string{"good-code", "sekrit-code-4f1d9a"} {
		t.Run(code, func(t *testing.T) {
			p := newProvider(t)
			b := newPerson(p)
			out := &syncBuffer{}
			var page string
			f := &Flow{Config: p.config(), Out: out, Open: b.open(t, func(b *person) {
				_, page, _ = b.call(url.Values{"code": {code}, "state": {b.state}})
			})}
			_, err := f.Run(context.Background())
			b.wait()
			if code != "good-code" && err == nil {
				t.Fatal("a refused code gave a token")
			}
			if code == "good-code" && err != nil {
				t.Fatal(err)
			}
			for what, s := range map[string]string{"output": out.String(), "page": page} {
				if strings.Contains(s, code) {
					t.Errorf("the %s shows the code: %q", what, s)
				}
			}
			if err != nil && strings.Contains(err.Error(), code) {
				t.Errorf("the error shows the code: %v", err)
			}
		})
	}
}
