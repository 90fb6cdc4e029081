// Package google imports a snapshot into a Google account: contacts through
// the People API, every file (media, notes, the message, call and vCard
// documents) into Drive under miexit/<source name>/. It registers the
// destination scheme "google".
package google

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/drive/v3"
	"google.golang.org/api/option"
	"google.golang.org/api/people/v1"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/oauthcli"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/transport"
	"github.com/miexit/miexit/mapping"
)

// Environment variables that override the configuration, for tests and
// demos against a fake server.
const (
	// EnvEndpoint is one base URL serving both APIs: People at <url>/v1/...,
	// Drive at <url>/drive/v3/... and uploads at <url>/upload/drive/v3/....
	EnvEndpoint = "MIEXIT_GOOGLE_ENDPOINT"
	// EnvToken is a static access token used instead of the saved one.
	EnvToken = "MIEXIT_GOOGLE_TOKEN"
	// EnvClientID and EnvClientSecret give the OAuth client instead of
	// <config dir>/google-client.json.
	EnvClientID     = "MIEXIT_GOOGLE_CLIENT_ID"
	EnvClientSecret = "MIEXIT_GOOGLE_CLIENT_SECRET"
	// EnvPeopleWPM caps People API writes per minute (see
	// Options.PeopleWritesPerMinute).
	EnvPeopleWPM = "MIEXIT_GOOGLE_PEOPLE_WRITES_PER_MINUTE"
)

// ClientFile is the OAuth client registration inside the config dir: the
// JSON Google Cloud console downloads for a "Desktop app" client.
const ClientFile = "google-client.json"

// tokenName names the token in the oauthcli store.
const tokenName = "google"

// Scopes are the least the importer needs: contacts, and the files miexit
// itself creates in Drive.
var Scopes = []string{"https://www.googleapis.com/auth/contacts", "https://www.googleapis.com/auth/drive.file"}

// Endpoint is Google's OAuth endpoint for installed apps.
var Endpoint = oauth2.Endpoint{
	AuthURL:   "https://accounts.google.com/o/oauth2/auth",
	TokenURL:  "https://oauth2.googleapis.com/token",
	AuthStyle: oauth2.AuthStyleInParams,
}

const (
	// maxContacts is Google's per-account limit.
	maxContacts = 25000
	// batchSize is batchCreateContacts' limit.
	batchSize = 200
	// membersPerCall is members:modify's limit.
	membersPerCall = 1000
	// resumableThreshold: files at least this big go through miexit's own
	// resumable upload, so a crash loses at most one chunk.
	resumableThreshold = 8 << 20
	// chunkSize must be a multiple of 256 KiB (Drive's rule).
	chunkSize = 8 << 20
)

func init() {
	importers.Register("google", func(ctx context.Context, p importers.Params) (importers.Importer, error) {
		return New(ctx, p)
	})
}

// Options build an Importer directly (tests, the CLI's own wiring).
type Options struct {
	Params importers.Params
	// Endpoint overrides Google's base URLs (see EnvEndpoint).
	Endpoint string
	// HTTPClient carries the credentials (an oauth2 client); when nil,
	// TokenSource's tokens go on the transport New uses (a connection
	// kept for each worker).
	HTTPClient  *http.Client
	TokenSource oauth2.TokenSource
	// Retry is the policy for every call; zero means defaults.
	Retry retry.Policy
	// ResumableThreshold and ChunkSize override the defaults (tests use
	// small values; ChunkSize must be a multiple of 256 KiB).
	ResumableThreshold int64
	ChunkSize          int64
	// MaxContacts overrides Google's 25,000 limit (tests).
	MaxContacts int
	// PeopleWritesPerMinute spaces People mutate calls (Google publishes
	// no per-user write quota; reports say about 90 a minute). Zero sends
	// them back to back and relies on backing off on 429.
	PeopleWritesPerMinute int
}

// Importer is the Google destination.
type Importer struct {
	p          importers.Params
	log        *slog.Logger
	people     *people.Service
	drive      *drive.Service
	hc         *http.Client
	uploadURL  string
	pol        retry.Policy
	threshold  int64
	chunk      int64
	maxContact int
	writeGap   time.Duration
	lastWrite  time.Time
	folder     string // the source's folder name under miexit/
	tag        string // appProperties value marking this destination's files

	acctMu sync.Mutex
	acct   string // the account's permissionId, once looked up
	// dest is the ledger key of the running Import (importers.LedgerKey).
	dest string
	// streamed is the folder tree a stream of files (StreamFiles) kept
	// up to date while the export went on; the Import after it takes it
	// over instead of listing Drive again.
	streamMu sync.Mutex
	streamed *folders
	// listed is the tree the last listing of files loaded, for Recheck.
	listed *tree

	idMu sync.Mutex
	ids  []string // from files.generateIds, for uploads (newID)
}

// New builds the importer from Params, the environment and the config dir.
func New(ctx context.Context, p importers.Params) (*Importer, error) {
	o := Options{Params: p, Endpoint: os.Getenv(EnvEndpoint)}
	if v := os.Getenv(EnvPeopleWPM); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s=%q is not a number of writes per minute", mapping.ErrBadInput, EnvPeopleWPM, v)
		}
		o.PeopleWritesPerMinute = n
	}
	var ts oauth2.TokenSource
	if tok := os.Getenv(EnvToken); tok != "" {
		ts = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})
	} else {
		var err error
		if ts, err = TokenSource(ctx, p.ConfigDir, p.Log); err != nil {
			return nil, err
		}
	}
	o.TokenSource = ts
	return NewWith(ctx, o)
}

// NewWith builds the importer from explicit options.
func NewWith(ctx context.Context, o Options) (*Importer, error) {
	p := o.Params
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 4
	}
	if o.HTTPClient == nil && o.TokenSource != nil {
		o.HTTPClient = &http.Client{Transport: &oauth2.Transport{Source: o.TokenSource, Base: transport.ForWorkers(p.Concurrency)}}
	}
	if o.HTTPClient == nil {
		return nil, errors.New("google: no HTTP client with credentials")
	}
	peopleBase, driveBase, upload := "https://people.googleapis.com/", "https://www.googleapis.com/drive/v3/", "https://www.googleapis.com/upload/drive/v3/files"
	if ep := strings.TrimRight(o.Endpoint, "/"); ep != "" {
		peopleBase, driveBase, upload = ep+"/", ep+"/drive/v3/", ep+"/upload/drive/v3/files"
	}
	ps, err := people.NewService(ctx, option.WithEndpoint(peopleBase), option.WithHTTPClient(o.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("google people client: %w", err)
	}
	ds, err := drive.NewService(ctx, option.WithEndpoint(driveBase), option.WithHTTPClient(o.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("google drive client: %w", err)
	}
	folder := snapshot.SafeName(p.Arg, "")
	if folder == "" {
		folder = snapshot.SafeName(p.SourceName, "snapshot")
	}
	im := &Importer{
		p: p, log: p.Log, people: ps, drive: ds, hc: o.HTTPClient, uploadURL: upload, pol: o.Retry,
		threshold: o.ResumableThreshold, chunk: o.ChunkSize, maxContact: o.MaxContacts, folder: folder,
	}
	if im.threshold <= 0 {
		im.threshold = resumableThreshold
	}
	if im.chunk <= 0 {
		im.chunk = chunkSize
	}
	if im.maxContact <= 0 {
		im.maxContact = maxContacts
	}
	if o.PeopleWritesPerMinute > 0 {
		im.writeGap = time.Minute / time.Duration(o.PeopleWritesPerMinute)
	}
	if im.pol.Pacer == nil {
		// One pause for every worker when Google says Retry-After.
		im.pol.Pacer = &retry.Pacer{}
	}
	sum := sha256.Sum256([]byte("miexit/" + folder))
	im.tag = hex.EncodeToString(sum[:12])
	return im, nil
}

// Name identifies the destination in reports, and with the account in the
// ledger (importers.LedgerKey).
func (im *Importer) Name() string { return "google:miexit/" + im.folder }

// Import uploads contacts to People and files to Drive. Contacts go first,
// strictly one mutate at a time; files then upload in parallel.
func (im *Importer) Import(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	if rep == nil {
		rep = progress.Discard
	}
	dest, err := importers.LedgerKey(ctx, im)
	if err != nil {
		return err
	}
	im.dest = dest
	cerr := im.importContacts(ctx, snap, led, rep)
	if cerr != nil && ctx.Err() != nil {
		return cerr
	}
	ferr := im.importFiles(ctx, snap, led, rep)
	if err := led.Flush(); err != nil {
		return errors.Join(cerr, ferr, err)
	}
	return errors.Join(cerr, ferr)
}

// List yields what the account really holds of one kind, for verify.
// Files come from Drive (Remote.SHA256 is Drive's own sha256Checksum);
// contacts from People by the key miexit put in clientData; messages and
// calls from the JSONL documents as Drive holds them, record by record.
func (im *Importer) List(ctx context.Context, kind mapping.Kind) iter.Seq2[mapping.Remote, error] {
	switch kind {
	case mapping.KindContact:
		return im.listContacts(ctx)
	case mapping.KindMessage:
		return im.listRecords(ctx, kind, snapshot.MessagesPath)
	case mapping.KindCall:
		return im.listRecords(ctx, kind, snapshot.CallsPath)
	}
	return im.listFiles(ctx, kind)
}

// TokenSource returns the saved token, refreshed as needed and saved back,
// with the client registration from the environment or the config dir.
func TokenSource(ctx context.Context, configDir string, log *slog.Logger) (oauth2.TokenSource, error) {
	cfg, err := OAuthConfig(configDir)
	if err != nil {
		return nil, err
	}
	store := oauthcli.Store{Dir: configDir}
	tok, err := store.Load(tokenName)
	if err != nil {
		return nil, err
	}
	save := func(t *oauth2.Token) error { return store.Save(tokenName, t) }
	return oauthcli.SavingTokenSource(ctx, cfg, tok, save, log), nil
}

// OAuthConfig reads the OAuth client from $MIEXIT_GOOGLE_CLIENT_ID and
// $MIEXIT_GOOGLE_CLIENT_SECRET, else <configDir>/google-client.json.
func OAuthConfig(configDir string) (*oauth2.Config, error) {
	c := oauthcli.Client{ID: os.Getenv(EnvClientID), Secret: os.Getenv(EnvClientSecret)}
	if c.ID == "" {
		p := filepath.Join(configDir, ClientFile)
		var err error
		c, err = oauthcli.LoadClient(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: no Google OAuth client: set %s and %s, or save the client JSON from Google Cloud console as %s (see the README)",
				mapping.ErrBadInput, EnvClientID, EnvClientSecret, p)
		}
		if err != nil {
			return nil, err
		}
	}
	return &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: Endpoint, Scopes: Scopes}, nil
}

// AuthOptions configure Auth.
type AuthOptions struct {
	ConfigDir string
	NoBrowser bool
	// Out receives the URL and instructions (the terminal).
	Out io.Writer
	// Open replaces the browser opener (tests).
	Open func(url string) error
	// Endpoint replaces Google's OAuth endpoint (tests).
	Endpoint *oauth2.Endpoint
}

// Auth is `miexit auth google`: it runs the loopback flow and saves the
// token in the config dir (0600). It returns the token file's path.
func Auth(ctx context.Context, o AuthOptions) (string, error) {
	cfg, err := OAuthConfig(o.ConfigDir)
	if err != nil {
		return "", err
	}
	if o.Endpoint != nil {
		cfg.Endpoint = *o.Endpoint
	}
	f := oauthcli.Flow{
		Config:    *cfg,
		NoBrowser: o.NoBrowser,
		Out:       o.Out,
		Open:      o.Open,
		// offline + consent so Google hands out a refresh token every time.
		AuthOptions: []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent")},
	}
	tok, err := f.Run(ctx)
	if err != nil {
		return "", fmt.Errorf("google sign-in: %w", err)
	}
	store := oauthcli.Store{Dir: o.ConfigDir}
	if err := store.Save(tokenName, tok); err != nil {
		return "", err
	}
	return store.Path(tokenName), nil
}

func (im *Importer) report(rep progress.Reporter, kind mapping.Kind, item string, a progress.Action, n int64, err error) {
	e := progress.Event{Phase: "import", Kind: kind, Item: item, Action: a, Bytes: n}
	if err != nil {
		e.Err = err.Error()
	}
	rep.Report(e)
}
