// Package dropbox is the "dropbox" destination: it uploads every file of a
// snapshot to a Dropbox folder with the real SDK, committing small files in
// batches, streaming big ones through upload sessions, and checking each
// file's content_hash against one computed locally.
//
//	dropbox                  -> /miexit/<source name>
//	dropbox:/Some/Folder     -> /Some/Folder
//
// MIEXIT_DROPBOX_ENDPOINT (a base URL serving <base>/2/<namespace>/<route>)
// and MIEXIT_DROPBOX_TOKEN (a static access token) point it at a fake or a
// proxy; otherwise the refresh token saved by Auth (`miexit auth dropbox`)
// in <config dir>/dropbox-token.json is used.
//
// Requests per run: one recursive list_folder (plus one list_folder/continue
// per further page) to learn what the folder holds; then for each file to
// copy up to 150 MiB, one upload_session/start carrying the whole file and
// closing the session, and one upload_session/finish_batch_v2 per 1,000
// such files; for each larger file, start + append_v2 per 64 MiB chunk (the
// last with close) + finish. 1,000 small files: 1,000 starts + 1 commit. A
// re-run of an unchanged snapshot only lists.
package dropbox

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox"
	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/files"
	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/users"
	"golang.org/x/oauth2"
	"golang.org/x/sync/errgroup"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/dropboxhash"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/transport"
	"github.com/miexit/miexit/mapping"
)

// Environment variables for tests, demos and external checks.
const (
	EnvEndpoint = "MIEXIT_DROPBOX_ENDPOINT"
	EnvToken    = "MIEXIT_DROPBOX_TOKEN"
)

// Limits from Dropbox's documentation.
const (
	// MaxSingleRequest is the most one upload request may carry; larger
	// files go through a chunked session.
	MaxSingleRequest = 150 << 20
	// MaxBatch is finish_batch_v2's entry limit.
	MaxBatch = 1000
)

func init() {
	importers.Register("dropbox", func(ctx context.Context, p importers.Params) (importers.Importer, error) {
		folder, err := FolderFor(p.Arg, p.SourceName)
		if err != nil {
			return nil, err
		}
		cfg := Config{
			Folder:      folder,
			Endpoint:    os.Getenv(EnvEndpoint),
			Concurrency: p.Concurrency,
			DryRun:      p.DryRun,
			Log:         p.Log,
		}
		if tok := os.Getenv(EnvToken); tok != "" {
			cfg.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})
		} else {
			ts, err := tokenSource(ctx, p.ConfigDir, oauth2.Endpoint{})
			if err != nil {
				return nil, err
			}
			cfg.TokenSource = ts
		}
		return New(cfg)
	})
}

// FolderFor turns the destination argument into a Dropbox folder: empty
// means /miexit/<source name>.
func FolderFor(arg, source string) (string, error) {
	if arg == "" {
		name := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ':' || r < 0x20 {
				return '_'
			}
			return r
		}, strings.TrimSpace(source))
		if name == "" {
			name = "snapshot"
		}
		return "/miexit/" + name, nil
	}
	if !strings.HasPrefix(arg, "/") {
		return "", fmt.Errorf("%w: dropbox folder %q must start with /", mapping.ErrBadInput, arg)
	}
	c := path.Clean(arg)
	if c == "/" {
		return "", fmt.Errorf("%w: dropbox: name a folder, not the root of the Dropbox", mapping.ErrBadInput)
	}
	for _, seg := range strings.Split(c[1:], "/") {
		if strings.HasSuffix(seg, " ") || strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
			return "", fmt.Errorf("%w: dropbox folder %q: Dropbox refuses the name %q (a backslash, a control character or a trailing space)", mapping.ErrBadInput, arg, seg)
		}
	}
	return c, nil
}

// Config configures an Importer.
type Config struct {
	// Folder is the destination folder ("/miexit/sample").
	Folder      string
	TokenSource oauth2.TokenSource
	// Endpoint is a base URL serving <Endpoint>/2/<namespace>/<route>; empty
	// means Dropbox itself.
	Endpoint string
	// HTTPClient's transport carries the requests (default http.DefaultTransport).
	HTTPClient  *http.Client
	Concurrency int
	DryRun      bool
	Log         *slog.Logger
	// Retry is the policy for every call; its Pacer is shared by all
	// workers so a Retry-After stops them all (one is made if nil).
	Retry retry.Policy
	// ChunkSize is the size of each request of a chunked session (default
	// 64 MiB; Dropbox wants multiples of 4 MiB).
	ChunkSize int64
	// SessionThreshold: files larger than this go through a chunked session
	// instead of one request (default MaxSingleRequest).
	SessionThreshold int64
	// BatchSize is how many files one finish_batch_v2 commits (default and
	// at most MaxBatch).
	BatchSize int
}

// Importer uploads snapshots to one Dropbox folder.
type Importer struct {
	cfg    Config
	client files.ContextClient
	users  users.ContextClient
	log    *slog.Logger

	acctMu sync.Mutex
	acct   string // the account_id, once looked up

	// streamed is what the folder holds after a stream of files
	// (StreamFiles) that ended cleanly: its listing at the start, with
	// every file it committed. The Import after it goes on from there
	// rather than listing the folder again, as Drive's does.
	streamedMu sync.Mutex
	streamed   *streamedFolder
}

// streamedFolder is the folder as a stream left it, for the ledger key
// dest.
type streamedFolder struct {
	dest string
	have map[string]remoteFile
}

// takeStreamed returns, once, what the last clean stream into dest left.
func (im *Importer) takeStreamed(dest string) map[string]remoteFile {
	im.streamedMu.Lock()
	defer im.streamedMu.Unlock()
	sf := im.streamed
	im.streamed = nil
	if sf == nil || sf.dest != dest {
		return nil
	}
	return sf.have
}

var (
	_ importers.Hasher    = (*Importer)(nil)
	_ importers.Accounter = (*Importer)(nil)
)

// New builds an Importer.
func New(cfg Config) (*Importer, error) {
	if cfg.TokenSource == nil {
		return nil, ErrNotSignedIn
	}
	if cfg.Folder == "" || !strings.HasPrefix(cfg.Folder, "/") {
		return nil, fmt.Errorf("%w: dropbox folder %q must start with /", mapping.ErrBadInput, cfg.Folder)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 64 << 20
	}
	cfg.ChunkSize = min(cfg.ChunkSize, MaxSingleRequest)
	if cfg.SessionThreshold <= 0 || cfg.SessionThreshold > MaxSingleRequest {
		cfg.SessionThreshold = MaxSingleRequest
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > MaxBatch {
		cfg.BatchSize = MaxBatch
	}
	if cfg.Retry.Pacer == nil {
		cfg.Retry.Pacer = &retry.Pacer{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	var base http.RoundTripper
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	} else {
		base = transport.ForWorkers(cfg.Concurrency)
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, cfg.TokenSource), Base: headerTransport{base: base}}}
	dc := dropbox.Config{Client: hc, LogLevel: dropbox.LogOff}
	if cfg.Endpoint != "" {
		ep := strings.TrimSuffix(cfg.Endpoint, "/")
		dc.URLGenerator = func(_, namespace, route string) string {
			return ep + "/2/" + namespace + "/" + route
		}
	}
	return &Importer{cfg: cfg, client: files.NewContext(dc), users: users.NewContext(dc), log: cfg.Log}, nil
}

// Account implements importers.Accounter: the signed-in account's
// account_id (users/get_current_account), looked up once.
func (im *Importer) Account(ctx context.Context) (string, error) {
	im.acctMu.Lock()
	defer im.acctMu.Unlock()
	if im.acct != "" {
		return im.acct, nil
	}
	var a *users.FullAccount
	err := im.call(ctx, "get current account", func(ctx context.Context) error {
		var err error
		a, err = im.users.GetCurrentAccountContext(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("dropbox: get current account: %w", err)
	}
	if a.AccountId == "" {
		return "", errors.New("dropbox: users/get_current_account gave no account_id")
	}
	im.acct = a.AccountId
	return im.acct, nil
}

// Name identifies the destination in reports, and with the account in the
// ledger (importers.LedgerKey).
func (im *Importer) Name() string { return "dropbox:" + im.cfg.Folder }

// NewHash returns Dropbox's content_hash, which List puts in Remote.Hash.
func (im *Importer) NewHash() hash.Hash { return dropboxhash.New() }

func (im *Importer) sleep(ctx context.Context, d time.Duration) error {
	if im.cfg.Retry.Sleep != nil {
		return im.cfg.Retry.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call runs one SDK call under the retry policy.
func (im *Importer) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return im.cfg.Retry.Do(ctx, op, func(ctx context.Context) error {
		cctx, c := withCapture(ctx)
		return classify(ctx, fn(cctx), c)
	})
}

// remoteFile is what the destination holds at one path.
type remoteFile struct {
	path, id, rev, hash string
	size                int64
}

// walk lists the folder recursively, yielding each file with its path
// relative to the folder rebuilt from each entry's own name: Dropbox's
// path_display only has the right casing in its last segment.
func (im *Importer) walk(ctx context.Context) iter.Seq2[remoteFile, error] {
	return func(yield func(remoteFile, error) bool) {
		root := strings.ToLower(im.cfg.Folder)
		names := map[string]string{} // folder path_lower -> its own name
		var resolve func(p string) (string, bool)
		resolve = func(p string) (string, bool) {
			if p == root {
				return "", true
			}
			name, ok := names[p]
			if !ok {
				return "", false
			}
			parent, ok := resolve(path.Dir(p))
			return parent + "/" + name, ok
		}
		// Files whose folders have not been listed yet wait for them:
		// Dropbox does not promise parents first.
		var orphans []*files.FileMetadata
		emit := func(f *files.FileMetadata) (bool, bool) {
			d, ok := resolve(path.Dir(f.PathLower))
			if !ok {
				return false, true
			}
			rel := strings.TrimPrefix(d+"/"+f.Name, "/")
			return true, yield(remoteFile{path: rel, id: f.Id, rev: f.Rev, hash: f.ContentHash, size: int64(f.Size)}, nil)
		}
		var res *files.ListFolderResult
		err := im.call(ctx, "dropbox list "+im.cfg.Folder, func(ctx context.Context) error {
			var err error
			res, err = im.client.ListFolderContext(ctx, &files.ListFolderArg{Path: im.cfg.Folder, Recursive: true})
			return err
		})
		if err != nil {
			var le files.ListFolderAPIError
			if errors.As(err, &le) && le.EndpointError != nil && le.EndpointError.Path != nil && le.EndpointError.Path.Tag == files.LookupErrorNotFound {
				return // nothing uploaded yet
			}
			yield(remoteFile{}, fmt.Errorf("dropbox list %s: %w", im.cfg.Folder, err))
			return
		}
		for {
			for _, m := range res.Entries {
				switch m := m.(type) {
				case *files.FolderMetadata:
					names[m.PathLower] = m.Name
				case *files.FileMetadata:
					ok, more := emit(m)
					if !more {
						return
					}
					if !ok {
						orphans = append(orphans, m)
					}
				}
			}
			if !res.HasMore {
				break
			}
			cur := res.Cursor
			err := im.call(ctx, "dropbox list "+im.cfg.Folder, func(ctx context.Context) error {
				var err error
				res, err = im.client.ListFolderContinueContext(ctx, &files.ListFolderContinueArg{Cursor: cur})
				return err
			})
			if err != nil {
				yield(remoteFile{}, fmt.Errorf("dropbox list %s: %w", im.cfg.Folder, err))
				return
			}
		}
		for _, m := range orphans {
			ok, more := emit(m)
			if !more {
				return
			}
			if !ok {
				if !yield(remoteFile{}, fmt.Errorf("dropbox list %s: %s listed without its folder", im.cfg.Folder, m.PathDisplay)) {
					return
				}
			}
		}
	}
}

// job is one snapshot file to place.
type job struct {
	e      mapping.Entry
	remote string // full Dropbox path
	mapped bool   // remote differs from folder + snapshot path
	note   string // what else the report should say about it
}

// pending is an uploaded, closed session awaiting its batch commit.
type pending struct {
	job
	session string
	size    int64
	hash    string
	mode    *files.WriteMode
	cm      *dropbox.DBXTime
}

// Import uploads every whole file of the snapshot that the folder does not
// already hold with the same content hash.
func (im *Importer) Import(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	if rep == nil {
		rep = progress.Discard
	}
	// The destination, not the ledger, decides what is there: a ledger
	// that lost its last writes must not cause conflicted copies, and one
	// that outlived a remote deletion must not hide it.
	dest, err := importers.LedgerKey(ctx, im)
	if err != nil {
		return err
	}
	have := im.takeStreamed(dest)
	if have == nil {
		if have, err = im.held(ctx); err != nil {
			return err
		}
	}
	names, err := im.plan(snap, led, dest)
	if err != nil {
		return fmt.Errorf("import to %s: %w", im.Name(), err)
	}
	run := &runState{im: im, led: led, dest: dest, rep: rep, have: have}

	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan job)
	commits := make(chan pending)
	g.Go(func() error {
		defer close(jobs)
		for e, err := range snap.Files() {
			if err != nil {
				return err
			}
			pl := names[e.Path]
			rp, mapped := pl.remote, pl.mapped
			select {
			case jobs <- job{e: e, remote: rp, mapped: mapped}:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	// Workers run in g, so one failing stops the others at once; commits
	// closes when the last of them is done.
	var workers sync.WaitGroup
	for range im.cfg.Concurrency {
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			for j := range jobs {
				if err := run.one(gctx, snap, j, commits); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		workers.Wait()
		close(commits)
		return nil
	})
	g.Go(func() error { return run.committer(gctx, commits) })
	err = g.Wait()
	if ferr := led.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("import to %s: %w", im.Name(), err)
	}
	if n := run.failed.Load(); n > 0 {
		return fmt.Errorf("import to %s: %d files failed (see the report)", im.Name(), n)
	}
	return nil
}

// held lists what the folder holds, by lower-cased path: the
// destination, not the ledger, decides what is there.
func (im *Importer) held(ctx context.Context) (map[string]remoteFile, error) {
	have := map[string]remoteFile{}
	for f, err := range im.walk(ctx) {
		if err != nil {
			return nil, err
		}
		have[strings.ToLower(f.path)] = f
	}
	return have, nil
}

// ListWritten implements importers.WrittenLister: a file whose
// content_hash in the listing is the one this importer recorded when it
// wrote it (computed from bytes whose sha256 it checked against the
// manifest) counts with that sha256, so migrate's final check does not
// read the snapshot again to hash it; any other file is left to be
// hashed as List's are. Dropbox computes the listing's content_hash from
// what it holds, so a file changed there no longer matches.
func (im *Importer) ListWritten(ctx context.Context, kind mapping.Kind, led *ledger.Ledger) iter.Seq2[mapping.Remote, error] {
	if !snapshot.WholeFile(kind) {
		return im.List(ctx, kind)
	}
	return im.ListKinds(ctx, []mapping.Kind{kind}, led)
}

// ListKinds implements importers.KindsLister: every whole-file kind
// comes from the same recursive listing of the folder, read once here
// for all of kinds.
func (im *Importer) ListKinds(ctx context.Context, kinds []mapping.Kind, led *ledger.Ledger) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		dest := ""
		if led != nil {
			var err error
			if dest, err = importers.LedgerKey(ctx, im); err != nil {
				yield(mapping.Remote{}, err)
				return
			}
		}
		for f, err := range im.walk(ctx) {
			if err != nil {
				yield(mapping.Remote{}, err)
				return
			}
			rel := decodePath(f.path)
			kind := snapshot.KindOf(rel)
			if !snapshot.WholeFile(kind) || !slices.Contains(kinds, kind) {
				continue
			}
			r := mapping.Remote{Kind: kind, Path: rel, Size: f.size, Hash: f.hash}
			if kind == mapping.KindMedia {
				r.Key = strings.TrimPrefix(rel, snapshot.MediaDir+"/")
			}
			if led != nil && r.Hash != "" {
				rec, ok, err := led.Get(dest, r.Path)
				if err != nil {
					yield(r, err)
					return
				}
				if ok && rec.Extra["content_hash"] == r.Hash && rec.Extra[xSession] == "" && rec.SHA256 != "" {
					r.SHA256 = rec.SHA256
				}
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// StreamFiles implements importers.FileStreamer: migrate uploads each
// media file as soon as the export has it, and small ones are committed
// in batches as in Import (the last by Close). When the stream ends
// without a failure, the Import after the export goes on from the
// listing it made at its start, with every file it committed (as Dropbox
// described each in its answer), and finds them there by their content
// hash; after any failure it lists the folder again. The final check
// lists the folder anew either way.
//
// Names follow Import's plan where it can know them: every name a
// ledger record holds for this folder is claimed first, so no file named
// now takes one. A new file whose name differs only in letter case from
// another new file of the same export is named in the order the export
// adds them, where Import alone would go by byte order; the ledger then
// keeps those names for the runs after.
func (im *Importer) StreamFiles(ctx context.Context, files snapshot.Folder, led *ledger.Ledger, rep progress.Reporter) (importers.FileSink, error) {
	dest, err := importers.LedgerKey(ctx, im)
	if err != nil {
		return nil, err
	}
	have, err := im.held(ctx)
	if err != nil {
		return nil, err
	}
	n := newNamer(im.cfg.Folder)
	err = led.Each(dest, snapshot.MediaDir+"/", func(key string, rec ledger.Record) error {
		if p := rec.Extra["path"]; p != "" {
			n.claim(key, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	s := &sink{im: im, files: files, dest: dest, names: n, ctx: cctx, cancel: cancel,
		run:     &runState{im: im, led: led, dest: dest, rep: rep, have: have},
		commits: make(chan pending), committed: make(chan error, 1)}
	go func() {
		err := s.run.committer(cctx, s.commits)
		if err != nil {
			cancel() // uploads waiting to be committed stop
		}
		s.committed <- err
	}()
	return s, nil
}

type sink struct {
	im        *Importer
	files     snapshot.Folder
	dest      string
	names     *namer
	run       *runState
	ctx       context.Context
	cancel    context.CancelFunc
	commits   chan pending
	committed chan error
}

func (s *sink) Workers() int { return s.im.cfg.Concurrency }

func (s *sink) ImportFile(ctx context.Context, e mapping.Entry) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	rec, ok, err := s.run.led.Get(s.dest, e.Path)
	if err != nil {
		return err
	}
	j := job{e: e}
	if p := rec.Extra["path"]; ok && p != "" && s.names.claim(e.Path, p) {
		j.remote, j.mapped = p, p != s.im.cfg.Folder+"/"+e.Path
	} else {
		j.remote, j.mapped = s.names.remote(e.Path)
	}
	// s.ctx ends with the committer too: an upload waiting for it must
	// not wait forever.
	return s.run.one(s.ctx, s.files, j, s.commits)
}

func (s *sink) Close() error {
	close(s.commits)
	err := <-s.committed
	clean := err == nil && s.ctx.Err() == nil && s.run.failed.Load() == 0
	s.cancel()
	if clean {
		s.im.streamedMu.Lock()
		s.im.streamed = &streamedFolder{dest: s.dest, have: s.run.have}
		s.im.streamedMu.Unlock()
	}
	return err
}

// List yields what the folder really holds. Whole-file kinds come from a
// recursive listing with Remote.Hash = content_hash; record kinds from
// downloading their document and splitting it into records.
func (im *Importer) List(ctx context.Context, kind mapping.Kind) iter.Seq2[mapping.Remote, error] {
	switch kind {
	case mapping.KindContact:
		return im.listRecords(ctx, kind, snapshot.ContactsPath)
	case mapping.KindMessage:
		return im.listRecords(ctx, kind, snapshot.MessagesPath)
	case mapping.KindCall:
		return im.listRecords(ctx, kind, snapshot.CallsPath)
	}
	return im.ListKinds(ctx, []mapping.Kind{kind}, nil)
}

func (im *Importer) listRecords(ctx context.Context, kind mapping.Kind, doc string) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		rp, _ := newNamer(im.cfg.Folder).remote(doc)
		var body io.ReadCloser
		err := im.call(ctx, "dropbox download "+rp, func(ctx context.Context) error {
			var err error
			_, body, err = im.client.DownloadContext(ctx, &files.DownloadArg{Path: rp})
			return err
		})
		if err != nil {
			var de files.DownloadAPIError
			if errors.As(err, &de) && de.EndpointError != nil && de.EndpointError.Path != nil && de.EndpointError.Path.Tag == files.LookupErrorNotFound {
				return
			}
			yield(mapping.Remote{}, fmt.Errorf("dropbox download %s: %w", rp, err))
			return
		}
		defer body.Close()
		for r, err := range snapshot.RemoteRecords(kind, doc, body) {
			if err != nil {
				yield(mapping.Remote{}, fmt.Errorf("dropbox %s: %w", rp, err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// localHashes streams a snapshot file once for its sha256 (to catch a
// snapshot changed behind its manifest) and its content_hash.
func localHashes(snap snapshot.Files, rel string) (sha string, ch string, size int64, err error) {
	f, err := snap.Open(rel)
	if err != nil {
		return "", "", 0, err
	}
	defer f.Close()
	sums := dropboxhash.NewPair()
	n, err := io.Copy(sums, f)
	if err != nil {
		return "", "", n, err
	}
	return hex.EncodeToString(sums.SHA256()), hex.EncodeToString(sums.ContentHash()), n, nil
}

func clientModified(e mapping.Entry) *dropbox.DBXTime {
	t := e.Taken
	if t.IsZero() {
		t = e.Modified
	}
	if t.IsZero() {
		return nil
	}
	d := dropbox.DBXTime(t.UTC().Truncate(time.Second))
	return &d
}
