package dropbox

// A deliberately small sign-in for Dropbox (PKCE, app key only, offline
// refresh token, token file 0600). internal/oauthcli is being written to do
// this for every service; once it lands, Auth and tokenSource should move
// onto it.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox"
	"golang.org/x/oauth2"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/mapping"
)

// TokenFile is the name of the token file inside the config folder.
const TokenFile = "dropbox-token.json"

// tokenFile is what is saved: the app key the token belongs to (needed to
// refresh it) and the token itself.
type tokenFile struct {
	AppKey string        `json:"app_key"`
	Token  *oauth2.Token `json:"token"`
}

// AuthOptions configure Auth.
type AuthOptions struct {
	// AppKey is the user's Dropbox app key (no secret: PKCE).
	AppKey    string
	ConfigDir string
	// Endpoint defaults to Dropbox's; tests point it at a fake.
	Endpoint oauth2.Endpoint
	// Loopback waits for the browser's redirect on 127.0.0.1:Port (Port 0
	// picks one; the app must list http://127.0.0.1:<port>/ as a redirect
	// URI). Without it Dropbox shows a code to paste (copy-the-code flow).
	Loopback bool
	Port     int
	// Open opens the URL in a browser; nil only prints it.
	Open func(url string) error
	// Out shows the instructions; In reads a pasted code.
	Out io.Writer
	In  io.Reader
}

func endpointOr(e oauth2.Endpoint) oauth2.Endpoint {
	if e.TokenURL == "" {
		e = dropbox.OAuthEndpoint("")
	}
	// No client secret: the app key travels in the form body.
	e.AuthStyle = oauth2.AuthStyleInParams
	return e
}

// Auth signs the user in to Dropbox and saves a refresh token in
// ConfigDir/dropbox-token.json (0600). The token is never printed.
func Auth(ctx context.Context, o AuthOptions) error {
	if o.AppKey == "" {
		return fmt.Errorf("%w: dropbox: an app key is needed (create an app in the Dropbox App Console)", mapping.ErrBadInput)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	conf := &oauth2.Config{ClientID: o.AppKey, Endpoint: endpointOr(o.Endpoint)}
	verifier := oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("token_access_type", "offline")}

	var code string
	if o.Loopback {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.Port))
		if err != nil {
			return fmt.Errorf("dropbox auth: %w", err)
		}
		defer ln.Close()
		conf.RedirectURL = fmt.Sprintf("http://%s/", ln.Addr())
		got := make(chan string, 1)
		var once sync.Once
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("state") != state || q.Get("code") == "" {
				http.Error(w, "miexit: this is not the answer to the sign-in it started", http.StatusBadRequest)
				return
			}
			fmt.Fprintln(w, "miexit is signed in to Dropbox. You can close this tab.")
			once.Do(func() { got <- q.Get("code") })
		})}
		go srv.Serve(ln)
		defer srv.Close()
		u := conf.AuthCodeURL(state, opts...)
		fmt.Fprintf(o.Out, "Open this address to let miexit use your Dropbox:\n%s\n", u)
		if o.Open != nil {
			if err := o.Open(u); err != nil {
				fmt.Fprintf(o.Out, "(could not open a browser: %v)\n", err)
			}
		}
		select {
		case code = <-got:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		u := conf.AuthCodeURL(state, opts...)
		fmt.Fprintf(o.Out, "Open this address, allow miexit, and paste the code Dropbox shows:\n%s\ncode: ", u)
		if o.Open != nil {
			o.Open(u)
		}
		if o.In == nil {
			return errors.New("dropbox auth: no input to read the code from")
		}
		line, err := bufio.NewReader(o.In).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("dropbox auth: reading the code: %w", err)
		}
		code = strings.TrimSpace(line)
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("dropbox auth: exchanging the code: %w", err)
	}
	if tok.RefreshToken == "" {
		return errors.New("dropbox auth: Dropbox returned no refresh token (token_access_type=offline was refused)")
	}
	return saveToken(o.ConfigDir, tokenFile{AppKey: o.AppKey, Token: tok})
}

func saveToken(dir string, tf tokenFile) error {
	b, err := json.Marshal(tf)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("dropbox token: %w", err)
	}
	dst := filepath.Join(dir, TokenFile)
	f, err := fsutil.CreateTemp(dst) // os.CreateTemp: mode 0600
	if err != nil {
		return fmt.Errorf("dropbox token: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		fsutil.Abort(f)
		return fmt.Errorf("dropbox token: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		fsutil.Abort(f)
		return fmt.Errorf("dropbox token: %w", err)
	}
	if err := fsutil.Commit(f, dst, true); err != nil {
		return fmt.Errorf("dropbox token: %w", err)
	}
	return nil
}

// ErrNotSignedIn means there is no saved Dropbox token.
var ErrNotSignedIn = errors.New("not signed in to Dropbox: run `miexit auth dropbox` (or set MIEXIT_DROPBOX_TOKEN)")

// tokenSource reads the saved token and returns a source that refreshes it
// and saves each new access token back to the file.
func tokenSource(ctx context.Context, dir string, ep oauth2.Endpoint) (oauth2.TokenSource, error) {
	p := filepath.Join(dir, TokenFile)
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotSignedIn
	}
	if err != nil {
		return nil, fmt.Errorf("dropbox token: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %v); run chmod 600 on it", mapping.ErrBadInput, p, st.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("dropbox token: %w", err)
	}
	var tf tokenFile
	if err := json.Unmarshal(b, &tf); err != nil || tf.Token == nil || tf.AppKey == "" {
		return nil, fmt.Errorf("%w: %s is not a miexit Dropbox token file; sign in again", mapping.ErrBadInput, p)
	}
	conf := &oauth2.Config{ClientID: tf.AppKey, Endpoint: endpointOr(ep)}
	return &savingSource{src: conf.TokenSource(ctx, tf.Token), dir: dir, tf: tf}, nil
}

// savingSource saves refreshed tokens: x/oauth2 refreshes but saves nothing.
type savingSource struct {
	src oauth2.TokenSource
	dir string

	mu sync.Mutex
	tf tokenFile
}

func (s *savingSource) Token() (*oauth2.Token, error) {
	t, err := s.src.Token()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tf.Token == nil || t.AccessToken != s.tf.Token.AccessToken {
		saved := *t // t is shared with x/oauth2's cache: copy, never modify
		if saved.RefreshToken == "" && s.tf.Token != nil {
			saved.RefreshToken = s.tf.Token.RefreshToken
		}
		s.tf.Token = &saved
		if err := saveToken(s.dir, s.tf); err != nil {
			return nil, err
		}
	}
	return t, nil
}
