package dropbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/mapping"
)

// fakeOAuth is Dropbox's token endpoint for a PKCE app: no secret, the
// verifier must match the challenge the authorize URL carried.
type fakeOAuth struct {
	t         *testing.T
	srv       *httptest.Server
	mu        sync.Mutex
	challenge string
	redirect  string
	refreshes int
}

func newFakeOAuth(t *testing.T) *fakeOAuth {
	f := &fakeOAuth{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.token))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOAuth) endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: f.srv.URL + "/oauth2/authorize", TokenURL: f.srv.URL + "/oauth2/token"}
}

// authorize plays the browser: it checks the authorize URL and returns the
// code Dropbox would hand out.
func (f *fakeOAuth) authorize(u string) (url.Values, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	q := pu.Query()
	if q.Get("token_access_type") != "offline" || q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "app-key" || q.Get("response_type") != "code" {
		return nil, errors.New("authorize URL lacks offline PKCE parameters: " + u)
	}
	f.mu.Lock()
	f.challenge, f.redirect = q.Get("code_challenge"), q.Get("redirect_uri")
	f.mu.Unlock()
	return q, nil
}

func (f *fakeOAuth) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": msg})
	}
	if r.Form.Get("client_secret") != "" || r.Header.Get("Authorization") != "" {
		fail("a PKCE client has no secret")
		return
	}
	if r.Form.Get("client_id") != "app-key" {
		fail("unknown client_id")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge {
			fail("code_verifier does not match code_challenge")
			return
		}
		if r.Form.Get("code") != "the-code" || r.Form.Get("redirect_uri") != f.redirect {
			fail("wrong code or redirect_uri")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "access-1", "token_type": "bearer", "expires_in": 14400, "refresh_token": "refresh-1"})
	case "refresh_token":
		if r.Form.Get("refresh_token") != "refresh-1" {
			fail("unknown refresh token")
			return
		}
		f.refreshes++
		// Dropbox does not send a new refresh token.
		json.NewEncoder(w).Encode(map[string]any{"access_token": "access-2", "token_type": "bearer", "expires_in": 14400})
	default:
		fail("unsupported grant_type")
	}
}

func readTokenFile(t *testing.T, dir string) (tokenFile, os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, TokenFile)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var tf tokenFile
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	return tf, st.Mode().Perm()
}

func TestAuthLoopbackFlow(t *testing.T) {
	oa := newFakeOAuth(t)
	dir := t.TempDir()
	var out bytes.Buffer
	err := Auth(context.Background(), AuthOptions{
		AppKey: "app-key", ConfigDir: dir, Endpoint: oa.endpoint(), Loopback: true, Out: &out,
		Open: func(u string) error {
			q, err := oa.authorize(u)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") {
				t.Errorf("redirect_uri %q is not a loopback address", q.Get("redirect_uri"))
			}
			// A forged answer with the wrong state is refused...
			if resp, err := http.Get(q.Get("redirect_uri") + "?code=evil&state=wrong"); err == nil {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("wrong state answered %d", resp.StatusCode)
				}
				resp.Body.Close()
			}
			// ...and the browser's real redirect is taken.
			go func() {
				resp, err := http.Get(q.Get("redirect_uri") + "?code=the-code&state=" + url.QueryEscape(q.Get("state")))
				if err == nil {
					resp.Body.Close()
				}
			}()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tf, mode := readTokenFile(t, dir)
	if mode != 0o600 {
		t.Errorf("token file mode %v, want 0600", mode)
	}
	if tf.AppKey != "app-key" || tf.Token.RefreshToken != "refresh-1" {
		t.Errorf("saved %+v", tf)
	}
	if strings.Contains(out.String(), "refresh-1") || strings.Contains(out.String(), "access-1") {
		t.Error("a token was printed")
	}
}

func TestAuthCopyTheCodeFlowAndRefresh(t *testing.T) {
	oa := newFakeOAuth(t)
	dir := t.TempDir()
	err := Auth(context.Background(), AuthOptions{
		AppKey: "app-key", ConfigDir: dir, Endpoint: oa.endpoint(), In: strings.NewReader("  the-code \n"),
		Open: func(u string) error {
			q, err := oa.authorize(u)
			if err != nil {
				t.Error(err)
			}
			if q.Has("redirect_uri") {
				t.Errorf("copy-the-code flow sent a redirect_uri: %s", u)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Expire the access token, as if hours had passed.
	tf, _ := readTokenFile(t, dir)
	tf.Token.Expiry = time.Now().Add(-time.Hour)
	if err := saveToken(dir, tf); err != nil {
		t.Fatal(err)
	}
	ts, err := tokenSource(context.Background(), dir, oa.endpoint())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "access-2" || oa.refreshes != 1 {
		t.Fatalf("token %q after %d refreshes", tok.AccessToken, oa.refreshes)
	}
	saved, mode := readTokenFile(t, dir)
	if saved.Token.AccessToken != "access-2" || saved.Token.RefreshToken != "refresh-1" || mode != 0o600 {
		t.Errorf("after refresh the file holds %q/%q mode %v", saved.Token.AccessToken, saved.Token.RefreshToken, mode)
	}
}

func TestTokenFileProblems(t *testing.T) {
	if _, err := tokenSource(context.Background(), t.TempDir(), oauth2.Endpoint{}); !errors.Is(err, ErrNotSignedIn) {
		t.Errorf("no file: %v, want ErrNotSignedIn", err)
	}
	dir := t.TempDir()
	if err := saveToken(dir, tokenFile{AppKey: "k", Token: &oauth2.Token{RefreshToken: "r"}}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, TokenFile), 0o644)
	if _, err := tokenSource(context.Background(), dir, oauth2.Endpoint{}); !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file: %v", err)
	}
	os.Chmod(filepath.Join(dir, TokenFile), 0o600)
	os.WriteFile(filepath.Join(dir, TokenFile), []byte("not json"), 0o600)
	if _, err := tokenSource(context.Background(), dir, oauth2.Endpoint{}); !errors.Is(err, mapping.ErrBadInput) {
		t.Errorf("garbage file: %v", err)
	}
	if err := Auth(context.Background(), AuthOptions{ConfigDir: dir}); !errors.Is(err, mapping.ErrBadInput) {
		t.Errorf("no app key: %v", err)
	}
}
