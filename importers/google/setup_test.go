package google

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/importertest"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/oauthcli"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func TestSchemeFromEnvironment(t *testing.T) {
	srv := googletest.New()
	t.Cleanup(srv.Close)
	t.Setenv(EnvEndpoint, srv.URL)
	t.Setenv(EnvToken, srv.Token)
	im, err := importers.Open(context.Background(), "google", importers.Params{SourceName: "adb:X", ConfigDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range im.List(context.Background(), mapping.KindContact) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if srv.Count(googletest.EPConnections) != 1 {
		t.Errorf("the env endpoint and token were not used: %v", srv.Counts())
	}
}

func TestNoTokenSaysHowToSignIn(t *testing.T) {
	t.Setenv(EnvToken, "")
	t.Setenv(EnvClientID, "id")
	_, err := importers.Open(context.Background(), "google", importers.Params{ConfigDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "miexit auth google") {
		t.Errorf("err = %v", err)
	}
	t.Setenv(EnvClientID, "")
	_, err = importers.Open(context.Background(), "google", importers.Params{ConfigDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), ClientFile) {
		t.Errorf("no client: err = %v", err)
	}
}

func TestAuthSavesTheTokenOwnerOnly(t *testing.T) {
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at","refresh_token":"rt","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(tokenSrv.Close)
	cfg := t.TempDir()
	os.WriteFile(filepath.Join(cfg, ClientFile), []byte(`{"installed":{"client_id":"id","client_secret":"sec"}}`), 0o600)
	t.Setenv(EnvClientID, "")
	var scopes string
	path, err := Auth(context.Background(), AuthOptions{
		ConfigDir: cfg,
		Endpoint:  &oauth2.Endpoint{AuthURL: tokenSrv.URL + "/auth", TokenURL: tokenSrv.URL + "/token"},
		Open: func(u string) error {
			pu, _ := url.Parse(u)
			q := pu.Query()
			scopes = q.Get("scope")
			go func() {
				resp, err := http.Get(q.Get("redirect_uri") + "?code=c&state=" + url.QueryEscape(q.Get("state")))
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
	if scopes != strings.Join(Scopes, " ") {
		t.Errorf("scopes asked = %q", scopes)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	tok, err := oauthcli.Store{Dir: cfg}.Load("google")
	if err != nil || tok.RefreshToken != "rt" {
		t.Errorf("saved token: %+v %v", tok, err)
	}
}

// A message edited in the JSONL Drive holds is named, by key, by verify.
func TestListMessagesReadsTheDocumentRecordByRecord(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 0) })
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	f := e.srv.FindFiles("miexit/adb_TEST123/" + snapshot.MessagesPath)[0]
	b, _ := e.srv.Content(f.ID)
	e.srv.SetContent(f.ID, []byte(strings.Replace(string(b), `"body":"second`, `"body":"SECOND`, 1)))
	missing, different := checkVerify(t, e.importer(t), e.snap)
	if len(missing) != 0 || len(different) != 2 || different[1] != snapshot.MessagesPath {
		t.Errorf("missing %v, different %v; want one message and the document", missing, different)
	}
}

// The importer the destination string opens keeps one connection a
// worker: http.DefaultTransport keeps two idle a host, so with four
// workers two were closed and opened again around every upload (a TLS
// handshake each, at Google).
func TestEveryWorkerKeepsItsConnection(t *testing.T) {
	srv := googletest.New()
	t.Cleanup(srv.Close)
	t.Setenv(EnvEndpoint, srv.URL)
	t.Setenv(EnvToken, srv.Token)
	ctx := context.Background()
	const workers, photos = 4, 60
	snap := importertest.Photos(t, filepath.Join(t.TempDir(), "snap"), photos)
	im, err := importers.Open(ctx, "google", importers.Params{SourceName: "test", ConfigDir: t.TempDir(), Concurrency: workers})
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count(googletest.EPUploadMultipart); n != photos {
		t.Fatalf("%d uploads, want %d", n, photos)
	}
	if n := srv.Conns(); n > workers+2 {
		t.Errorf("%d photos by %d workers took %d connections, want at most %d", photos, workers, n, workers+2)
	}
}
