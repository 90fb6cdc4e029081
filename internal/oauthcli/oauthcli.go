// Package oauthcli is the OAuth plumbing every miexit destination shares:
// the installed-app loopback flow with PKCE, a token store in the config dir,
// and a TokenSource that saves refreshed tokens. Tokens never reach a log or
// an error message.
package oauthcli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/mapping"
)

// Flow runs the installed-app authorization: a one-shot listener on
// 127.0.0.1 at a random port receives the redirect.
type Flow struct {
	// Config holds the client id, secret, endpoint and scopes; its
	// RedirectURL is set by Run.
	Config oauth2.Config
	// NoBrowser prints the URL to Out instead of opening a browser.
	NoBrowser bool
	// Out is where the URL and instructions go (the terminal).
	Out io.Writer
	// Open opens a URL in a browser; OpenBrowser by default. When it fails
	// the URL is printed instead.
	Open func(url string) error
	// AuthOptions are extra parameters for the authorization URL
	// (access_type=offline, prompt=consent for Google).
	AuthOptions []oauth2.AuthCodeOption
}

// ErrDenied means the person refused access or the redirect was not ours.
var ErrDenied = errors.New("authorization was not granted")

type callback struct {
	code string
	err  error
}

// Run waits for the person to authorize and exchanges the code for a token.
func (f *Flow) Run(ctx context.Context) (*oauth2.Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oauth: listen on loopback: %w", err)
	}
	defer ln.Close()
	cfg := f.Config
	cfg.RedirectURL = fmt.Sprintf("http://%s/", ln.Addr().String())
	verifier := oauth2.GenerateVerifier()
	state, err := randomState()
	if err != nil {
		return nil, err
	}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, f.AuthOptions...)
	authURL := cfg.AuthCodeURL(state, opts...)

	done := make(chan callback, 1)
	var once sync.Once
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(state)) != 1 {
				// Not the redirect this sign-in asked for (a stale tab, a
				// forged link): refused, and the flow keeps waiting for
				// the real one rather than ending on it.
				http.Error(w, "miexit: this sign-in link does not belong to the sign-in in progress.", http.StatusBadRequest)
				return
			}
			cb := readCallback(r, state)
			handled := false
			once.Do(func() { handled = true })
			if !handled {
				http.Error(w, "This sign-in link was already used.", http.StatusGone)
				return
			}
			// The page goes out before the flow hears of it: the flow
			// closes this server as soon as it does.
			defer func() { done <- cb }()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if cb.err != nil {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, "<p>miexit: %s. You can close this tab.</p>", html.EscapeString(cb.err.Error()))
			} else {
				fmt.Fprint(w, "<p>miexit is authorized. You can close this tab and return to the terminal.</p>")
			}
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}),
	}
	go srv.Serve(ln)
	defer srv.Close()

	out := f.Out
	if out == nil {
		out = io.Discard
	}
	open := f.Open
	if open == nil {
		open = OpenBrowser
	}
	if f.NoBrowser {
		fmt.Fprintf(out, "Open this URL in a browser on this computer and allow access:\n\n  %s\n\n", authURL)
	} else if err := open(authURL); err != nil {
		fmt.Fprintf(out, "Could not open a browser (%v). Open this URL and allow access:\n\n  %s\n\n", err, authURL)
	} else {
		fmt.Fprintln(out, "A browser window opened; allow access there.")
	}

	var cb callback
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case cb = <-done:
	}
	// One use only: nothing else may be answered on this port. Shutdown
	// stops listening at once and lets the page just written reach the
	// browser.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	srv.Shutdown(sctx)
	cancel()
	if cb.err != nil {
		return nil, cb.err
	}
	tok, err := cfg.Exchange(ctx, cb.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("oauth: exchange the authorization code: %w", SafeError(err))
	}
	return tok, nil
}

func readCallback(r *http.Request, state string) callback {
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return callback{err: fmt.Errorf("oauth: %w: the redirect's state does not match this sign-in", ErrDenied)}
	}
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return callback{err: fmt.Errorf("oauth: %w: access was refused on the sign-in page; run the same `miexit auth` command again and allow access", ErrDenied)}
		}
		return callback{err: fmt.Errorf("oauth: %w: the sign-in page answered %q", ErrDenied, printable(e))}
	}
	code := q.Get("code")
	if code == "" {
		return callback{err: fmt.Errorf("oauth: %w: the redirect carries no code", ErrDenied)}
	}
	return callback{code: code}
}

// printable keeps an error code from the redirect short and plain: it
// comes from whoever sent the request and ends up on the terminal.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r < 0x20 || r == 0x7f || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func randomState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oauth: random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SafeError reduces an oauth2 error to what may be shown: a RetrieveError's
// body can echo request values, so only its status and error code are kept.
func SafeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("token endpoint answered HTTP %d %s", status, msg)
	}
	return err
}

// OpenBrowser opens url with the desktop's handler.
func OpenBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// Store keeps tokens as <Dir>/<name>-token.json, readable by the owner only.
type Store struct{ Dir string }

// Path is the file holding the token called name.
func (s Store) Path(name string) string { return filepath.Join(s.Dir, name+"-token.json") }

// ErrNoToken means no token was saved yet: run `miexit auth <name>`.
var ErrNoToken = errors.New("not signed in")

// Load reads a saved token.
func (s Store) Load(name string) (*oauth2.Token, error) {
	p := s.Path(name)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w to %s: run `miexit auth %s` first", ErrNoToken, name, name)
	}
	if err != nil {
		return nil, fmt.Errorf("token %s: %w", p, err)
	}
	var t oauth2.Token
	if err := json.Unmarshal(b, &t); err != nil {
		// The JSON error could quote the file's bytes: keep it out.
		return nil, fmt.Errorf("%w: token file %s is not valid JSON; run `miexit auth %s` again", mapping.ErrBadInput, p, name)
	}
	return &t, nil
}

// Save writes a token atomically with mode 0600 in a 0700 folder.
func (s Store) Save(name string, t *oauth2.Token) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("token store %s: %w", s.Dir, err)
	}
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("token %s: encode failed", name)
	}
	p := s.Path(name)
	// fsutil's temp files are created 0600, so the token is never readable
	// by others, not even before the rename.
	if err := fsutil.WriteFile(p, b, true); err != nil {
		return fmt.Errorf("token %s: %w", p, err)
	}
	return os.Chmod(p, 0o600)
}

// savingSource saves every token its source hands out that differs from
// the last one saved.
type savingSource struct {
	src  oauth2.TokenSource
	save func(*oauth2.Token) error
	log  *slog.Logger

	mu   sync.Mutex
	last *oauth2.Token
}

// SavingTokenSource refreshes tokens through cfg and saves each new one with
// save, so a refresh survives the process. A failed save is logged (without
// the token) and does not fail the call.
func SavingTokenSource(ctx context.Context, cfg *oauth2.Config, tok *oauth2.Token, save func(*oauth2.Token) error, log *slog.Logger) oauth2.TokenSource {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &savingSource{src: cfg.TokenSource(ctx, tok), save: save, log: log, last: tok}
}

func (s *savingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.src.Token()
	if err != nil {
		return nil, SafeError(err)
	}
	if s.last == nil || t.AccessToken != s.last.AccessToken || t.RefreshToken != s.last.RefreshToken {
		if err := s.save(t); err != nil {
			s.log.Warn("could not save the refreshed token; the next run refreshes again", "err", err)
		} else {
			s.last = t
		}
	}
	return t, nil
}

// Client is an OAuth client registration.
type Client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// LoadClient reads a client registration: Google's downloaded JSON
// ({"installed": {...}}) or a plain {"client_id", "client_secret"}.
func LoadClient(path string) (Client, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Client{}, fmt.Errorf("oauth client %s: %w", path, err)
	}
	var doc struct {
		Installed *Client `json:"installed"`
		Web       *Client `json:"web"`
		Client
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return Client{}, fmt.Errorf("%w: oauth client %s is not valid JSON", mapping.ErrBadInput, path)
	}
	c := doc.Client
	if doc.Installed != nil {
		c = *doc.Installed
	} else if doc.Web != nil {
		c = *doc.Web
	}
	if c.ID == "" {
		return Client{}, fmt.Errorf("%w: oauth client %s has no client_id", mapping.ErrBadInput, path)
	}
	return c, nil
}
