// Package carddav is the "carddav:URL" destination: every contact of a
// snapshot becomes one vCard resource in a CardDAV address book
// (Nextcloud, Fastmail, iCloud, Radicale, a NAS).
//
//	carddav:https://cloud.example.org/remote.php/dav/addressbooks/users/me/contacts/
//	carddav:https://cloud.example.org/        (discovery)
//
// When the URL is not an address book, discovery asks it (then the host's
// /.well-known/carddav) for the current user's principal and its
// addressbook-home-set: one address book there is used, none means one
// named "miexit" is created (extended MKCOL), several is an error listing
// them. Cards are written in vCard 4.0 when the book's
// supported-address-data lists it, else 3.0 (RFC 6352's default), each
// with its X-MIEXIT-KEY and a UID (derived from the key when the card has
// none), at a resource named after the key, so a re-run overwrites and
// duplicates nothing. Creates carry If-None-Match: *, updates If-Match
// with the ETag miexit got when it wrote the card; a card changed on the
// server since is kept, and the snapshot's version goes next to it (a
// warning says which). Only contacts go here: the rest of a snapshot
// needs another destination (webdav:, dir:).
//
// Requests per run: discovery (1 PROPFIND, up to 4 more), one PROPFIND
// Depth 1 listing the ETags, then one PUT per new or changed card (a GET
// where the ledger cannot vouch for a card). List is one REPORT
// addressbook-query returning every card, read one response at a time.
package carddav

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"
	"golang.org/x/sync/errgroup"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/dav"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

// Scheme is the destination's scheme.
const Scheme = "carddav"

// BookName is the address book discovery creates when the account has none.
const BookName = "miexit"

func init() {
	importers.Register(Scheme, func(ctx context.Context, p importers.Params) (importers.Importer, error) {
		u, err := dav.NormalizeURL(p.Arg)
		if err != nil {
			return nil, fmt.Errorf("%w (as in carddav:https://cloud.example.org/remote.php/dav/)", err)
		}
		cred, err := dav.Lookup(p.ConfigDir, u, Scheme)
		if err != nil {
			return nil, err
		}
		return New(Config{URL: u.String(), Cred: cred, Concurrency: p.Concurrency, DryRun: p.DryRun, Log: p.Log})
	})
}

// Config configures an Importer.
type Config struct {
	// URL is an address book, or a server or account URL to discover
	// one from.
	URL         string
	Cred        dav.Cred
	HTTPClient  *http.Client
	Concurrency int
	DryRun      bool
	Log         *slog.Logger
	// Retry replaces the default policy (tests make it quick).
	Retry *retry.Policy
	// Version forces the vCard version written ("3.0", "4.0") for a
	// server whose supported-address-data is wrong; "" follows it.
	Version string
}

// Importer writes contacts into one address book.
type Importer struct {
	cfg    Config
	base   *url.URL
	c      *dav.Client
	log    *slog.Logger
	writes atomic.Int64
	// lastRefusal is the last card the server refused, for the summary.
	lastRefusal atomic.Value

	mu      sync.Mutex
	book    *url.URL // nil until resolved
	version string
}

// New builds an Importer; nothing is sent until Import or List.
func New(cfg Config) (*Importer, error) {
	u, err := dav.NormalizeURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := dav.NewClient(Scheme, u, cfg.Cred, cfg.HTTPClient, cfg.Concurrency)
	if cfg.Retry != nil {
		c.Retry = *cfg.Retry
	}
	return &Importer{cfg: cfg, base: u, c: c, log: cfg.Log}, nil
}

// Name implements importers.Importer.
func (im *Importer) Name() string { return Scheme + ":" + im.base.String() }

// Holds implements importers.Holder: an address book holds contacts only.
func (im *Importer) Holds(k mapping.Kind) bool { return k == mapping.KindContact }

// Writes counts the cards this importer created or replaced.
func (im *Importer) Writes() int64 { return im.writes.Load() }

// Book is the address book in use, once resolved.
func (im *Importer) Book() string {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.book == nil {
		return ""
	}
	return im.book.String()
}

// Version is the vCard version cards are written in, once resolved.
func (im *Importer) Version() string {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.version
}

var errNoBook = errors.New("no address book")

// resolve finds (and, with create, makes) the address book.
func (im *Importer) resolve(ctx context.Context, create bool) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.book != nil {
		return nil
	}
	// One plain PROPFIND first, through Send: a wrong password or a dead
	// URL gets its clear message here, not go-webdav's bare status.
	res, err := im.c.Send(ctx, "carddav: look at "+im.base.Redacted(), dav.Request{
		Method: "PROPFIND", URL: im.base.String(), Header: http.Header{"Depth": {"0"}, "Content-Type": {"application/xml; charset=utf-8"}},
		Body: bodyOf([]byte(propfindType)), Size: int64(len(propfindType)),
		OK: []int{http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusMultipleChoices, http.StatusMovedPermanently, http.StatusFound},
	})
	if err != nil {
		return err
	}
	isBook := false
	if res.StatusCode == http.StatusMultiStatus {
		for r, err := range dav.MultiStatus(res.Body) {
			if err != nil {
				dav.Drain(res)
				return fmt.Errorf("carddav: %s: %w", im.base.Redacted(), err)
			}
			isBook = isBook || r.AddressBook
		}
	}
	dav.Drain(res)
	dc, err := carddav.NewClient(im.c, im.base.String())
	if err != nil {
		return err
	}
	if isBook {
		books, err := im.findBooks(ctx, dc, im.base.Path)
		if err != nil {
			return fmt.Errorf("carddav: read the address book %s: %w", im.base.Redacted(), err)
		}
		for _, b := range books {
			if strings.TrimSuffix(b.Path, "/") == strings.TrimSuffix(im.base.Path, "/") {
				im.use(im.base, b)
				return nil
			}
		}
		im.use(im.base, carddav.AddressBook{Path: im.base.Path})
		return nil
	}
	home, err := im.findHome(ctx)
	if err != nil {
		return err
	}
	// The home set may be on another host than the URL given: ask there.
	dc, err = carddav.NewClient(im.c, (&url.URL{Scheme: home.Scheme, Host: home.Host, Path: "/"}).String())
	if err != nil {
		return err
	}
	books, err := im.findBooks(ctx, dc, home.Path)
	if err != nil {
		return fmt.Errorf("carddav: list the address books at %s: %w", home.Redacted(), err)
	}
	switch len(books) {
	case 1:
		u, err := dav.Resolve(home, books[0].Path)
		if err != nil {
			return err
		}
		im.log.Info("carddav: using the address book found by discovery", "url", u.Redacted(), "name", books[0].Name)
		im.use(u, books[0])
		return nil
	case 0:
		if !create {
			return errNoBook
		}
		u, err := im.mkBook(ctx, home)
		if err != nil {
			return err
		}
		im.log.Warn("carddav: the account had no address book; created one", "url", u.Redacted())
		books, err := im.findBooks(ctx, dc, u.Path)
		if err == nil && len(books) == 1 {
			im.use(u, books[0])
		} else {
			im.use(u, carddav.AddressBook{Path: u.Path})
		}
		return nil
	}
	var names []string
	for _, b := range books {
		u, _ := dav.Resolve(home, b.Path)
		names = append(names, "carddav:"+u.String())
	}
	return fmt.Errorf("%w: %s holds %d address books; choose one: %s", mapping.ErrBadInput, home.Redacted(), len(books), strings.Join(names, ", "))
}

// findBooks is go-webdav's FindAddressBooks under the retry policy: the
// credentials were checked by then, so what fails here is the network or
// a listing cut short.
func (im *Importer) findBooks(ctx context.Context, dc *carddav.Client, p string) ([]carddav.AddressBook, error) {
	var books []carddav.AddressBook
	err := im.c.Retry.Do(ctx, "carddav: list the address books at "+p, func(ctx context.Context) error {
		var err error
		books, err = dc.FindAddressBooks(ctx, p)
		return err
	})
	return books, err
}

func (im *Importer) use(u *url.URL, b carddav.AddressBook) {
	im.book = u
	im.version = mvcard.V3
	if b.SupportsAddressData("text/vcard", "4.0") {
		im.version = mvcard.V4
	}
	if im.cfg.Version != "" {
		im.version = im.cfg.Version
	}
}

const propfindType = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>`

// findHome follows current-user-principal and addressbook-home-set from
// the URL given, then from the host's /.well-known/carddav.
func (im *Importer) findHome(ctx context.Context) (*url.URL, error) {
	try := func(start *url.URL) (*url.URL, error) {
		dc, err := carddav.NewClient(im.c, start.String())
		if err != nil {
			return nil, err
		}
		p, err := dc.FindCurrentUserPrincipal(ctx)
		if err != nil || p == "" {
			return nil, fmt.Errorf("no current-user-principal: %v", err)
		}
		pu, err := dav.Resolve(start, p)
		if err != nil {
			return nil, err
		}
		return im.homeSet(ctx, pu)
	}
	home, err := try(im.base)
	if err == nil {
		return home, nil
	}
	wk, werr := im.wellKnown(ctx)
	if werr == nil {
		if home, err2 := try(wk); err2 == nil {
			return home, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not an address book, and discovery found none from it (%v): give the address book's own URL, as in carddav:https://cloud.example.org/remote.php/dav/addressbooks/users/me/contacts/", mapping.ErrBadInput, im.base.Redacted(), err)
}

// homeSet reads the principal's addressbook-home-set itself, not through
// go-webdav, which keeps only the href's path: iCloud's home set is an
// absolute URL on another host.
func (im *Importer) homeSet(ctx context.Context, principal *url.URL) (*url.URL, error) {
	const body = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><c:addressbook-home-set/></d:prop></d:propfind>`
	var home string
	err := im.c.Retry.Do(ctx, "carddav: read "+principal.Redacted(), func(ctx context.Context) error {
		res, err := im.c.Send(ctx, "carddav: read "+principal.Redacted(), dav.Request{
			Method: "PROPFIND", URL: principal.String(), Header: http.Header{"Depth": {"0"}, "Content-Type": {"application/xml; charset=utf-8"}},
			Body: bodyOf([]byte(body)), Size: int64(len(body)),
		})
		if err != nil {
			return retry.Permanent(err)
		}
		defer dav.Drain(res)
		for r, err := range dav.MultiStatus(res.Body) {
			if err != nil {
				return err
			}
			if h := r.Hrefs[dav.HomeSet]; h != "" {
				home = h
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if home == "" {
		return nil, fmt.Errorf("no addressbook-home-set on %s", principal.Redacted())
	}
	return dav.Resolve(principal, home)
}

// wellKnown asks the host's /.well-known/carddav where CardDAV lives,
// without letting the HTTP client turn the PROPFIND into a GET on the
// redirect.
func (im *Importer) wellKnown(ctx context.Context) (*url.URL, error) {
	wk := im.base.ResolveReference(&url.URL{Path: "/.well-known/carddav"})
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", wk.String(), strings.NewReader(propfindType))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Depth", "0")
	req.SetBasicAuth(im.cfg.Cred.User, im.cfg.Cred.Password)
	hc := *im.c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	dav.Drain(res)
	if loc := res.Header.Get("Location"); loc != "" && res.StatusCode >= 300 && res.StatusCode < 400 {
		return dav.Resolve(wk, loc)
	}
	if res.StatusCode == http.StatusMultiStatus {
		return wk, nil
	}
	return nil, fmt.Errorf("%s: HTTP %d", wk, res.StatusCode)
}

// mkBook creates an address book in home with an extended MKCOL (RFC 5689).
func (im *Importer) mkBook(ctx context.Context, home *url.URL) (*url.URL, error) {
	u := home.ResolveReference(&url.URL{Path: BookName + "/"})
	body := []byte(`<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype><d:displayname>miexit</d:displayname></d:prop></d:set></d:mkcol>`)
	res, err := im.c.Send(ctx, "carddav: create the address book "+u.Redacted(), dav.Request{
		Method: "MKCOL", URL: u.String(), Header: http.Header{"Content-Type": {"application/xml; charset=utf-8"}},
		Body: bodyOf(body), Size: int64(len(body)), OK: []int{http.StatusMethodNotAllowed},
	})
	if err != nil {
		return nil, fmt.Errorf("%w; or create an address book on the server and give its URL", err)
	}
	// 405: it exists already (a run killed right after creating it).
	dav.Drain(res)
	return u, nil
}

func bodyOf(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// ResourceName is the card's file name in the address book, from its key:
// the same key always lands on the same resource.
func ResourceName(key string) string {
	ok := key != "" && len(key) <= 120
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
			break
		}
	}
	if ok && !strings.HasPrefix(key, ".") {
		return key + ".vcf"
	}
	sum := sha256.Sum256([]byte(key))
	return "miexit-" + hex.EncodeToString(sum[:16]) + ".vcf"
}

// keptName is where the snapshot's version of a card goes when the server
// holds a different one at ResourceName: named after its content, so a
// re-run finds it instead of writing it again.
func keptName(key, sha string) string {
	return strings.TrimSuffix(ResourceName(key), ".vcf") + "-" + sha[:12] + ".vcf"
}

// uidFor is the UID given to a card that has none (CardDAV requires one).
func uidFor(key string) string { return "urn:miexit:" + key }

// card is one contact to write.
type card struct {
	key, sha string
	c        mapping.Contact
}

// remoteCard is what the listing says of one resource.
type remoteCard struct{ etag string }

// Import implements importers.Importer.
func (im *Importer) Import(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	if rep == nil {
		rep = progress.Discard
	}
	err := im.resolve(ctx, !im.cfg.DryRun)
	if errors.Is(err, errNoBook) && im.cfg.DryRun {
		return im.dryRunAll(snap, rep)
	}
	if err != nil {
		return err
	}
	have, err := im.etags(ctx)
	if err != nil {
		return err
	}
	var skipped int
	for e, err := range snap.Files() {
		if err != nil {
			return err
		}
		if e.Path != snapshot.ContactsPath {
			skipped++
		}
	}
	if skipped > 0 {
		im.log.Info("carddav: an address book holds contacts only; send the other files to another destination (webdav:, dir:)", "files_left_out", skipped)
	}
	var failed atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(im.cfg.Concurrency)
	for c, err := range contacts(snap) {
		if err != nil {
			return fmt.Errorf("carddav: %w", err)
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			act, err := im.one(gctx, led, have, c)
			if err != nil {
				rep.Report(progress.Event{Phase: "import", Kind: mapping.KindContact, Item: c.key, Action: progress.Failed, Err: err.Error()})
				if retry.IsPermanent(err) && !errors.Is(err, mapping.ErrBadInput) && gctx.Err() == nil {
					// One card the server refuses (too large, say) does not
					// stop the others.
					im.log.Warn("carddav: card refused", "key", c.key, "err", err)
					im.lastRefusal.Store(err.Error())
					failed.Add(1)
					return nil
				}
				return err
			}
			rep.Report(progress.Event{Phase: "import", Kind: mapping.KindContact, Item: c.key, Action: act})
			return nil
		})
	}
	err = g.Wait()
	if ferr := led.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("import to %s: %w", im.Name(), err)
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("import to %s: the server refused %d cards (the last: %v); the others are there", im.Name(), n, im.lastRefusal.Load())
	}
	return nil
}

func (im *Importer) dryRunAll(snap *snapshot.Reader, rep progress.Reporter) error {
	for c, err := range contacts(snap) {
		if err != nil {
			return err
		}
		rep.Report(progress.Event{Phase: "import", Kind: mapping.KindContact, Item: c.key, Action: progress.WouldCopy})
	}
	return nil
}

// contacts streams the snapshot's contacts with their records' sha256.
func contacts(snap *snapshot.Reader) iter.Seq2[card, error] {
	return func(yield func(card, error) bool) {
		f, err := snap.Open(snapshot.ContactsPath)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			yield(card{}, err)
			return
		}
		defer f.Close()
		for rec, err := range snapshot.Records(f, snapshot.ContactsPath) {
			if err != nil {
				yield(card{}, err)
				return
			}
			var c mapping.Contact
			for got, err := range mvcard.Decode(bytes.NewReader(rec.Data), snapshot.ContactsPath) {
				if err != nil {
					yield(card{}, fmt.Errorf("%s: contact %s: %w", snapshot.ContactsPath, rec.Key, err))
					return
				}
				c = got
				break
			}
			c.Key = rec.Key
			if !yield(card{key: rec.Key, sha: rec.SHA256, c: c}, nil) {
				return
			}
		}
	}
}

// etags lists the book's resources (Depth 1, ETags only).
func (im *Importer) etags(ctx context.Context) (map[string]remoteCard, error) {
	book := im.bookURL()
	const body = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>`
	have := map[string]remoteCard{}
	// A listing cut short is read again whole.
	err := im.c.Retry.Do(ctx, "carddav: list "+book.Redacted(), func(ctx context.Context) error {
		clear(have)
		res, err := im.c.Send(ctx, "carddav: list "+book.Redacted(), dav.Request{
			Method: "PROPFIND", URL: book.String(), Header: http.Header{"Depth": {"1"}, "Content-Type": {"application/xml; charset=utf-8"}},
			Body: bodyOf([]byte(body)), Size: int64(len(body)),
		})
		if err != nil {
			return retry.Permanent(err)
		}
		defer dav.Drain(res)
		for r, err := range dav.MultiStatus(res.Body) {
			if err != nil {
				return fmt.Errorf("carddav: list %s: %w", book.Redacted(), err)
			}
			if r.Collection {
				continue
			}
			u, err := dav.Resolve(book, r.Href)
			if err != nil {
				return retry.Permanent(err)
			}
			have[path.Base(u.Path)] = remoteCard{etag: r.Props[dav.GetETag]}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return have, nil
}

func (im *Importer) bookURL() *url.URL {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.book
}

func (im *Importer) cardURL(name string) string {
	return im.bookURL().ResolveReference(&url.URL{Path: name}).String()
}

// one makes the book hold c, and says what it did.
func (im *Importer) one(ctx context.Context, led *ledger.Ledger, have map[string]remoteCard, c card) (progress.Action, error) {
	rec, known, err := led.Get(im.Name(), c.key)
	if err != nil {
		return "", err
	}
	name := ResourceName(c.key)
	// Where the ledger says this card went (the kept name after a
	// conflict) and it is still there unchanged, nothing to do.
	if known && rec.SHA256 == c.sha && rec.RemoteID != "" {
		if r, ok := have[rec.RemoteID]; ok && r.etag != "" && r.etag == rec.Extra["etag"] {
			return progress.Unchanged, nil
		}
	}
	r, exists := have[name]
	switch {
	case !exists:
		return im.create(ctx, led, have, c, name, true)
	case known && rec.RemoteID == name && r.etag != "" && r.etag == rec.Extra["etag"]:
		// Ours, untouched since we wrote it, and the snapshot changed.
		if im.cfg.DryRun {
			return progress.WouldCopy, nil
		}
		act, err := im.put(ctx, led, c, name, http.Header{"If-Match": {r.etag}})
		if !errors.Is(err, errPrecondition) {
			return act, err
		}
		// Edited between the listing and the PUT: fall through to keep it.
	}
	same, etag, err := im.holds(ctx, name, c)
	if err != nil {
		return "", err
	}
	if same {
		return progress.Unchanged, led.Put(im.Name(), c.key, ledger.Record{SHA256: c.sha, RemoteID: name, Extra: map[string]string{"etag": etag}})
	}
	// The server's card is not this snapshot's: edited there since miexit
	// wrote it, or someone else's with the same name. Keep it; the
	// snapshot's version goes beside it.
	kept := keptName(c.key, c.sha)
	if _, ok := have[kept]; !ok && !im.cfg.DryRun {
		im.log.Warn("carddav: the server's card differs from the snapshot's (edited there?); kept it and wrote the snapshot's version next to it", "card", im.cardURL(name), "written_as", im.cardURL(kept))
	}
	return im.create(ctx, led, have, c, kept, false)
}

var errPrecondition = errors.New("precondition failed")

// create writes c at a name the listing did not hold, with If-None-Match
// so a card that appeared since is never replaced.
func (im *Importer) create(ctx context.Context, led *ledger.Ledger, have map[string]remoteCard, c card, name string, first bool) (progress.Action, error) {
	if _, ok := have[name]; ok && !first {
		same, etag, err := im.holds(ctx, name, c)
		if err != nil {
			return "", err
		}
		if same {
			return progress.Unchanged, led.Put(im.Name(), c.key, ledger.Record{SHA256: c.sha, RemoteID: name, Extra: map[string]string{"etag": etag}})
		}
		return "", fmt.Errorf("carddav: %s and %s both differ from the snapshot's card %s; move one away on the server and run again", im.cardURL(ResourceName(c.key)), im.cardURL(name), c.key)
	}
	if im.cfg.DryRun {
		return progress.WouldCopy, nil
	}
	act, err := im.put(ctx, led, c, name, http.Header{"If-None-Match": {"*"}})
	if !errors.Is(err, errPrecondition) {
		return act, err
	}
	// It exists after all: a PUT of ours whose answer was lost, or a
	// card created since the listing.
	same, etag, err := im.holds(ctx, name, c)
	if err != nil {
		return "", err
	}
	if same {
		return progress.Unchanged, led.Put(im.Name(), c.key, ledger.Record{SHA256: c.sha, RemoteID: name, Extra: map[string]string{"etag": etag}})
	}
	if first {
		have = map[string]remoteCard{name: {}}
		return im.create(ctx, led, have, c, keptName(c.key, c.sha), false)
	}
	return "", fmt.Errorf("carddav: %s appeared on the server while miexit wrote it and differs; run again", im.cardURL(name))
}

// keptUID marks the UID of a card written beside a kept one: servers
// refuse two cards with one UID in a book.
func keptUID(uid, sha string) string { return uid + "-miexit-" + sha[:12] }

// unkeptUID undoes keptUID.
func unkeptUID(uid string) string {
	i := strings.LastIndex(uid, "-miexit-")
	if i < 0 || len(uid)-i != len("-miexit-")+12 {
		return uid
	}
	for _, r := range uid[i+len("-miexit-"):] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return uid
		}
	}
	return uid[:i]
}

// encode is the card as sent: the book's version, its key, and a UID.
func (im *Importer) encode(c card, name string) ([]byte, error) {
	out := cloneCard(c.c)
	if strings.TrimSpace(out.Value("UID")) == "" {
		out.SetValue("UID", uidFor(c.key))
	}
	if name != ResourceName(c.key) {
		out.SetValue("UID", keptUID(out.Value("UID"), c.sha))
	}
	out.SetValue(mvcard.KeyField, c.key)
	var b bytes.Buffer
	if err := mvcard.Encode(&b, out, im.Version()); err != nil {
		return nil, fmt.Errorf("contact %s: %w", c.key, err)
	}
	return b.Bytes(), nil
}

// put sends one card; a 412 comes back as errPrecondition.
func (im *Importer) put(ctx context.Context, led *ledger.Ledger, c card, name string, h http.Header) (progress.Action, error) {
	body, err := im.encode(c, name)
	if err != nil {
		return "", err
	}
	u := im.cardURL(name)
	h.Set("Content-Type", "text/vcard; charset=utf-8")
	res, err := im.c.Send(ctx, "carddav: write "+u, dav.Request{
		Method: http.MethodPut, URL: u, Header: h, Body: bodyOf(body), Size: int64(len(body)),
		OK: []int{http.StatusPreconditionFailed, http.StatusUnsupportedMediaType},
	})
	if err != nil {
		var se *dav.StatusError
		if errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusForbidden) && im.Version() == mvcard.V4 {
			return "", fmt.Errorf("%w; the server may refuse vCard 4.0: report it with this message", err)
		}
		return "", err
	}
	defer dav.Drain(res)
	switch res.StatusCode {
	case http.StatusPreconditionFailed:
		return "", errPrecondition
	case http.StatusUnsupportedMediaType:
		if im.Version() == mvcard.V4 {
			// It said 4.0 and refuses it: write 3.0 from now on.
			im.mu.Lock()
			im.version = mvcard.V3
			im.mu.Unlock()
			im.log.Warn("carddav: the server refused a vCard 4.0 card; writing 3.0", "url", u)
			return im.put(ctx, led, c, name, h)
		}
		return "", retry.Permanent(fmt.Errorf("%w: %s refused the card %s as vCard 3.0 and 4.0 (HTTP 415): is %s a CardDAV address book?", mapping.ErrBadInput, u, c.key, im.bookURL().Redacted()))
	}
	im.writes.Add(1)
	etag := res.Header.Get("ETag")
	if strings.HasPrefix(etag, "W/") {
		// A weak ETag does not promise the bytes; the next run checks
		// the card itself.
		etag = ""
	}
	return progress.Copied, led.Put(im.Name(), c.key, ledger.Record{SHA256: c.sha, RemoteID: name, Size: int64(len(body)), Extra: map[string]string{"etag": etag}})
}

// holds reads the card at name and says whether it is c's.
func (im *Importer) holds(ctx context.Context, name string, c card) (bool, string, error) {
	u := im.cardURL(name)
	res, err := im.c.Send(ctx, "carddav: read "+u, dav.Request{Method: http.MethodGet, URL: u, Header: http.Header{"Accept": {"text/vcard"}}, OK: []int{http.StatusNotFound}})
	if err != nil {
		return false, "", err
	}
	defer dav.Drain(res)
	if res.StatusCode == http.StatusNotFound {
		return false, "", nil
	}
	key, sha, err := Fingerprint(io.LimitReader(res.Body, 16<<20), u)
	if err != nil {
		// Not a card miexit can read: not ours.
		return false, "", nil
	}
	etag := res.Header.Get("ETag")
	if strings.HasPrefix(etag, "W/") {
		etag = ""
	}
	return key == c.key && sha == c.sha, etag, nil
}

// Fingerprint reads one card as a server returns it and gives its
// X-MIEXIT-KEY and the sha256 its snapshot record would have: the card
// re-encoded as 4.0 with its key, without the UID miexit added, so a card
// that went to the server as 3.0 compares equal to its 4.0 original.
func Fingerprint(r io.Reader, name string) (key, sha string, err error) {
	for c, err := range mvcard.Decode(r, name) {
		if err != nil {
			return "", "", err
		}
		if c.Key == "" {
			return "", "", fmt.Errorf("%s: no %s", name, mvcard.KeyField)
		}
		card := cloneCard(c)
		if uid := unkeptUID(card.Value("UID")); uid == uidFor(c.Key) {
			delete(card, "UID")
		} else if uid != "" {
			card.SetValue("UID", uid)
		}
		card.SetValue(mvcard.KeyField, c.Key)
		var b bytes.Buffer
		if err := mvcard.Encode(&b, card, mvcard.V4); err != nil {
			return "", "", err
		}
		sum := sha256.Sum256(b.Bytes())
		return c.Key, hex.EncodeToString(sum[:]), nil
	}
	return "", "", fmt.Errorf("%s: no card", name)
}

// List implements importers.Importer: one REPORT addressbook-query over
// the book, each card read back and fingerprinted. When a key is on two
// cards (a conflict kept both), the one miexit wrote under its content's
// name wins if it still holds that content.
func (im *Importer) List(ctx context.Context, kind mapping.Kind) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		if kind != mapping.KindContact {
			return
		}
		err := im.resolve(ctx, false)
		if errors.Is(err, errNoBook) {
			return
		}
		if err != nil {
			yield(mapping.Remote{}, err)
			return
		}
		book := im.bookURL()
		const q = `<?xml version="1.0" encoding="utf-8"?><c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop></c:addressbook-query>`
		type found struct {
			r    mapping.Remote
			best bool
		}
		byKey := map[string]found{}
		var order []string
		// Nothing is yielded before the whole book is read, so a REPORT
		// cut short is read again whole.
		err = im.c.Retry.Do(ctx, "carddav: list "+book.Redacted(), func(ctx context.Context) error {
			clear(byKey)
			order = order[:0]
			res, err := im.c.Send(ctx, "carddav: list "+book.Redacted(), dav.Request{
				Method: "REPORT", URL: book.String(), Header: http.Header{"Depth": {"1"}, "Content-Type": {"application/xml; charset=utf-8"}},
				Body: bodyOf([]byte(q)), Size: int64(len(q)),
			})
			if err != nil {
				return retry.Permanent(err)
			}
			defer dav.Drain(res)
			for r, err := range dav.MultiStatus(res.Body) {
				if err != nil {
					return fmt.Errorf("carddav: list %s: %w", book.Redacted(), err)
				}
				data, ok := r.Props[dav.AddressData]
				if !ok || r.Collection {
					continue
				}
				key, sha, err := Fingerprint(strings.NewReader(data), r.Href)
				if err != nil {
					continue // not a card miexit wrote
				}
				name := path.Base(r.Href)
				best := name == keptName(key, sha)
				rem := mapping.Remote{Kind: mapping.KindContact, Key: key, Path: snapshot.ContactsPath, Size: int64(len(data)), SHA256: sha}
				prev, seen := byKey[key]
				if !seen {
					order = append(order, key)
				}
				if !seen || (best && !prev.best) {
					byKey[key] = found{rem, best}
				}
			}
			return nil
		})
		if err != nil {
			yield(mapping.Remote{}, err)
			return
		}
		for _, k := range order {
			if !yield(byKey[k].r, nil) {
				return
			}
		}
	}
}

// cloneCard copies c's card so adding the key and UID leaves c alone.
func cloneCard(c mapping.Contact) vcard.Card {
	out := make(vcard.Card, len(c.Card)+2)
	for k, fs := range c.Card {
		out[k] = append([]*vcard.Field(nil), fs...)
	}
	return out
}
