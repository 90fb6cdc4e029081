package onedrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/internal/fsutil"
)

// TokenFile is the file in the config folder holding the OneDrive client id
// and token (refresh token included); it is written 0600.
const TokenFile = "onedrive-token.json"

// Endpoint is Microsoft's OAuth endpoint for personal accounts.
var Endpoint = oauth2.Endpoint{
	AuthURL:       "https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize",
	TokenURL:      "https://login.microsoftonline.com/consumers/oauth2/v2.0/token",
	DeviceAuthURL: "https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode",
	AuthStyle:     oauth2.AuthStyleInParams,
}

// Scopes are what miexit asks for.
var Scopes = []string{"Files.ReadWrite", "offline_access"}

type tokenFile struct {
	ClientID string        `json:"client_id"`
	Token    *oauth2.Token `json:"token"`
}

func tokenSource(ctx context.Context, configDir string) (oauth2.TokenSource, error) {
	if t := os.Getenv(EnvToken); t != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: t, TokenType: "Bearer"}), nil
	}
	p := filepath.Join(configDir, TokenFile)
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no OneDrive token in %s: run `miexit auth onedrive` first", p)
	}
	if err != nil {
		return nil, fmt.Errorf("onedrive token: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("onedrive token %s is readable by others (mode %v): chmod 600 it", p, fi.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("onedrive token: %w", err)
	}
	var tf tokenFile
	if err := json.Unmarshal(b, &tf); err != nil || tf.Token == nil || tf.ClientID == "" {
		return nil, fmt.Errorf("onedrive token %s: not a token file (need client_id and token): run `miexit auth onedrive` again", p)
	}
	cfg := &oauth2.Config{ClientID: tf.ClientID, Endpoint: Endpoint, Scopes: Scopes}
	// The refresh runs long after the factory's ctx may be gone.
	inner := cfg.TokenSource(context.WithoutCancel(ctx), tf.Token)
	return &savingSource{inner: inner, path: p, clientID: tf.ClientID, last: tf.Token.AccessToken}, nil
}

// savingSource writes every new token to disk: Microsoft rotates refresh
// tokens, so the one just used may not work again.
type savingSource struct {
	inner    oauth2.TokenSource
	path     string
	clientID string
	mu       sync.Mutex
	last     string
}

func (s *savingSource) Token() (*oauth2.Token, error) {
	t, err := s.inner.Token()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.AccessToken != s.last {
		if err := SaveToken(s.path, s.clientID, t); err != nil {
			return nil, err
		}
		s.last = t.AccessToken
	}
	return t, nil
}

// SaveToken writes a token file atomically with mode 0600.
func SaveToken(path, clientID string, t *oauth2.Token) error {
	b, err := json.Marshal(tokenFile{ClientID: clientID, Token: t})
	if err != nil {
		return err
	}
	f, err := fsutil.CreateTemp(path)
	if err != nil {
		return fmt.Errorf("save onedrive token: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		fsutil.Abort(f)
		return fmt.Errorf("save onedrive token: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		fsutil.Abort(f)
		return fmt.Errorf("save onedrive token: %w", err)
	}
	if err := fsutil.Commit(f, path, true); err != nil {
		return fmt.Errorf("save onedrive token: %w", err)
	}
	return nil
}
