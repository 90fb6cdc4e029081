package onedrive

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/importers"
)

// fakeLogin is Microsoft's token and device-code endpoints as the docs
// describe them; the token endpoint rotates the refresh token.
func fakeLogin(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var issued atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/devicecode":
			json.NewEncoder(w).Encode(map[string]any{"device_code": "dev-1", "user_code": "ABCD-EFGH", "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 1})
		case "/token":
			if r.Form.Get("client_id") != "client-1" {
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client"})
				return
			}
			n := issued.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"access_token": "access-" + string(rune('0'+n)), "token_type": "Bearer", "expires_in": 1, "refresh_token": "refresh-" + string(rune('0'+n))})
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &issued
}

func TestDeviceLoginSavesARotatingTokenPrivately(t *testing.T) {
	srv, issued := fakeLogin(t)
	dir := t.TempDir()
	cfg := OAuthConfig("client-1", "")
	cfg.Endpoint = oauth2.Endpoint{TokenURL: srv.URL + "/token", DeviceAuthURL: srv.URL + "/devicecode", AuthStyle: oauth2.AuthStyleInParams}
	var shown string
	if err := DeviceLogin(context.Background(), cfg, dir, func(uri, code string) { shown = uri + " " + code }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(shown, "ABCD-EFGH") {
		t.Errorf("the person was shown %q", shown)
	}
	p := filepath.Join(dir, TokenFile)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	// The importer's token source refreshes the expired token and saves
	// the rotated refresh token.
	b, _ := os.ReadFile(p)
	var tf tokenFile
	json.Unmarshal(b, &tf)
	tf.Token.Expiry = time.Now().Add(-time.Hour)
	ts := (&oauth2.Config{ClientID: "client-1", Endpoint: cfg.Endpoint}).TokenSource(context.Background(), tf.Token)
	saver := &savingSource{inner: ts, path: p, clientID: "client-1", last: tf.Token.AccessToken}
	tok, err := saver.Token()
	if err != nil {
		t.Fatal(err)
	}
	if issued.Load() != 2 || tok.AccessToken == tf.Token.AccessToken {
		t.Fatalf("no refresh happened (issued %d)", issued.Load())
	}
	b, _ = os.ReadFile(p)
	if !strings.Contains(string(b), "refresh-2") {
		t.Errorf("the rotated refresh token was not saved: %s", b)
	}
}

func TestTokenFileMustBePrivate(t *testing.T) {
	t.Setenv(EnvToken, "")
	dir := t.TempDir()
	p := filepath.Join(dir, TokenFile)
	os.WriteFile(p, []byte(`{"client_id":"c","token":{"access_token":"a"}}`), 0o644)
	if _, err := open(context.Background(), importers.Params{ConfigDir: dir}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable token file: %v", err)
	}
	os.Remove(p)
	if _, err := open(context.Background(), importers.Params{ConfigDir: dir}); err == nil || !strings.Contains(err.Error(), "miexit auth onedrive") {
		t.Errorf("no token file: %v", err)
	}
}

func TestRegisteredSchemeUsesEnvironment(t *testing.T) {
	e := newEnv(t)
	t.Setenv(EnvEndpoint, e.fake.Endpoint())
	t.Setenv(EnvToken, e.fake.Token())
	imp, err := importers.Open(context.Background(), "onedrive:/Backups", importers.Params{SourceName: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Name() != "onedrive:/Backups" {
		t.Errorf("Name() = %s", imp.Name())
	}
	e.fake.PutFile("/Backups/media/a.jpg", []byte("a"), time.Now())
	n := 0
	for r, err := range imp.List(context.Background(), "media") {
		if err != nil {
			t.Fatal(err)
		}
		if r.Path != "media/a.jpg" {
			t.Errorf("listed %s", r.Path)
		}
		n++
	}
	if n != 1 || e.fake.Count("unauthorized") != 0 {
		t.Errorf("listed %d files, %d refused requests", n, e.fake.Count("unauthorized"))
	}
}
