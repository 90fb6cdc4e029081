package oauthcli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// provider is a fake authorization server: it checks PKCE at the token
// endpoint and counts exchanges and refreshes.
type provider struct {
	*httptest.Server
	mu        sync.Mutex
	challenge string
	exchanges atomic.Int32
	refreshes atomic.Int32
}

func newProvider(t *testing.T) *provider {
	p := &provider{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		switch r.Form.Get("grant_type") {
		case "authorization_code":
			p.exchanges.Add(1)
			sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
			p.mu.Lock()
			ok := base64.RawURLEncoding.EncodeToString(sum[:]) == p.challenge
			p.mu.Unlock()
			if r.Form.Get("code") != "good-code" || !ok {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant","error_description":"bad code or verifier","echo":"`+r.Form.Get("client_secret")+`"}`)
				return
			}
			fmt.Fprint(w, `{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer","expires_in":3600}`)
		case "refresh_token":
			n := p.refreshes.Add(1)
			fmt.Fprintf(w, `{"access_token":"at-r%d","token_type":"Bearer","expires_in":3600}`, n)
		default:
			w.WriteHeader(400)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *provider) config() oauth2.Config {
	return oauth2.Config{ClientID: "cid", ClientSecret: "very-secret", Scopes: []string{"s1"},
		Endpoint: oauth2.Endpoint{AuthURL: p.URL + "/auth", TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// browser plays the person: it reads the authorization URL and calls the
// redirect with code and (possibly altered) state.
func (p *provider) browser(t *testing.T, code string, alterState bool, redirect *string) func(string) error {
	return func(u string) error {
		pu, err := url.Parse(u)
		if err != nil {
			return err
		}
		q := pu.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			t.Errorf("no PKCE S256 in %s", u)
		}
		p.mu.Lock()
		p.challenge = q.Get("code_challenge")
		p.mu.Unlock()
		ru, _ := url.Parse(q.Get("redirect_uri"))
		if ru.Hostname() != "127.0.0.1" || ru.Port() == "" {
			t.Errorf("redirect_uri %q is not a loopback with a port", ru)
		}
		*redirect = ru.String()
		state := q.Get("state")
		if alterState {
			state += "x"
		}
		go func() {
			resp, err := http.Get(ru.String() + "?code=" + code + "&state=" + url.QueryEscape(state))
			if err == nil {
				resp.Body.Close()
			}
		}()
		return nil
	}
}

func TestFlowGetsATokenWithPKCEAndClosesTheListener(t *testing.T) {
	p := newProvider(t)
	var redirect string
	f := &Flow{Config: p.config(), Open: p.browser(t, "good-code", false, &redirect)}
	tok, err := f.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" {
		t.Errorf("token = %+v", tok)
	}
	if resp, err := http.Get(redirect + "?code=good-code&state=x"); err == nil {
		resp.Body.Close()
		t.Error("the redirect listener still answers after its one use")
	}
}

type lineWriter struct{ ch chan string }

func (w lineWriter) Write(b []byte) (int, error) {
	w.ch <- string(b)
	return len(b), nil
}

func TestNoBrowserPrintsTheURL(t *testing.T) {
	p := newProvider(t)
	out := lineWriter{ch: make(chan string, 10)}
	var redirect string
	opened := false
	f := &Flow{Config: p.config(), NoBrowser: true, Out: out, Open: func(string) error { opened = true; return nil }}
	go func() {
		for s := range out.ch {
			if i := strings.Index(s, p.URL+"/auth?"); i >= 0 {
				u := strings.Fields(s[i:])[0]
				p.browser(t, "good-code", false, &redirect)(u)
				return
			}
		}
	}()
	if _, err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if opened {
		t.Error("--no-browser opened a browser")
	}
}

func TestExchangeErrorsHideTheResponseBody(t *testing.T) {
	p := newProvider(t)
	var redirect string
	f := &Flow{Config: p.config(), Open: p.browser(t, "bad-code", false, &redirect)}
	_, err := f.Run(context.Background())
	if err == nil {
		t.Fatal("a bad code gave a token")
	}
	if strings.Contains(err.Error(), "very-secret") {
		t.Errorf("the error shows the client secret: %v", err)
	}
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("the error lost the reason: %v", err)
	}
}

func TestStoreWritesOwnerOnlyFiles(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "cfg")}
	if _, err := s.Load("google"); !errors.Is(err, ErrNoToken) {
		t.Errorf("load before save: %v, want ErrNoToken", err)
	}
	tok := &oauth2.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour).Round(time.Second)}
	if err := s.Save("google", tok); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.Path("google"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", st.Mode().Perm())
	}
	dst, _ := os.Stat(s.Dir)
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("token dir mode %v, want 0700", dst.Mode().Perm())
	}
	got, err := s.Load("google")
	if err != nil || got.RefreshToken != "r" || !got.Expiry.Equal(tok.Expiry) {
		t.Errorf("load = %+v, %v", got, err)
	}
	os.WriteFile(s.Path("bad"), []byte("{secret-ish"), 0o600)
	if _, err := s.Load("bad"); err == nil || strings.Contains(err.Error(), "secret-ish") {
		t.Errorf("damaged token file: %v", err)
	}
}

func TestSavingTokenSourceSavesEachNewTokenOnce(t *testing.T) {
	p := newProvider(t)
	cfg := p.config()
	var saved []string
	var mu sync.Mutex
	save := func(tk *oauth2.Token) error {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, tk.AccessToken)
		return nil
	}
	expired := &oauth2.Token{AccessToken: "old", RefreshToken: "rt-1", Expiry: time.Now().Add(-time.Hour)}
	ts := SavingTokenSource(context.Background(), &cfg, expired, save, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ts.Token(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p.refreshes.Load() != 1 || len(saved) != 1 || saved[0] != "at-r1" {
		t.Errorf("refreshes %d, saved %v; want one refresh saved once", p.refreshes.Load(), saved)
	}
}

func TestLoadClientReadsGoogleJSON(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	os.WriteFile(p, []byte(`{"installed":{"client_id":"id1","client_secret":"s1","redirect_uris":["http://localhost"]}}`), 0o600)
	c, err := LoadClient(p)
	if err != nil || c.ID != "id1" || c.Secret != "s1" {
		t.Errorf("installed JSON: %+v %v", c, err)
	}
	os.WriteFile(p, []byte(`{"client_id":"id2"}`), 0o600)
	if c, err := LoadClient(p); err != nil || c.ID != "id2" {
		t.Errorf("plain JSON: %+v %v", c, err)
	}
	os.WriteFile(p, []byte(`{}`), 0o600)
	if _, err := LoadClient(p); err == nil {
		t.Error("a client without id was accepted")
	}
}
