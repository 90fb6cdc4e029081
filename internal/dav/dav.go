// Package dav is what the carddav and webdav destinations share: the user
// name and app password (stored 0600 by `miexit auth carddav|webdav URL`,
// or MIEXIT_DAV_USER / MIEXIT_DAV_PASSWORD), one HTTP client that signs
// every request, retries what a server says is temporary and explains
// what it says is not, and a streaming reader of 207 Multi-Status bodies.
package dav

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/transport"
	"github.com/miexit/miexit/mapping"
)

// Environment variables that give the credentials without a stored file
// (scripts, CI); they win over the stored ones.
const (
	EnvUser     = "MIEXIT_DAV_USER"
	EnvPassword = "MIEXIT_DAV_PASSWORD"
)

// CredFile is the file in the config dir holding the stored credentials,
// one entry per server URL.
const CredFile = "dav-credentials.json"

// Cred is one server's user name and app password.
type Cred struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// String never shows the password, so a Cred logged by mistake leaks
// nothing.
func (c Cred) String() string { return "user " + c.User }

// NormalizeURL is the form URLs are stored and compared in: scheme and
// host lower-cased, a trailing slash on the path.
func NormalizeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an http:// or https:// URL (as in https://cloud.example.org/remote.php/dav/)", mapping.ErrBadInput, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %s: put the user name and password in `miexit auth`, not in the URL", mapping.ErrBadInput, u.Redacted())
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

func credPath(configDir string) string { return filepath.Join(configDir, CredFile) }

func readCreds(configDir string) (map[string]Cred, error) {
	m := map[string]Cred{}
	b, err := os.ReadFile(credPath(configDir))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s is damaged (%v); delete it and run `miexit auth carddav URL` again", mapping.ErrBadInput, credPath(configDir), err)
	}
	return m, nil
}

// Save stores the credentials for a server URL, 0600, next to any others.
func Save(configDir, rawURL string, c Cred) error {
	u, err := NormalizeURL(rawURL)
	if err != nil {
		return err
	}
	if c.User == "" || c.Password == "" {
		return fmt.Errorf("%w: both a user name and an app password are needed", mapping.ErrBadInput)
	}
	m, err := readCreds(configDir)
	if err != nil {
		return err
	}
	m[u.String()] = c
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	dst := credPath(configDir)
	f, err := fsutil.CreateTemp(dst)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		fsutil.Abort(f)
		return err
	}
	if _, err := f.Write(b); err != nil {
		fsutil.Abort(f)
		return err
	}
	if err := fsutil.Commit(f, dst, true); err != nil {
		return fmt.Errorf("save %s: %w", dst, err)
	}
	return nil
}

// Lookup finds the credentials for u: the environment's when both
// variables are set, else the stored entry for the longest URL that u
// starts with (so one `miexit auth` for https://host/remote.php/dav/
// covers every address book and folder below it).
func Lookup(configDir string, u *url.URL, scheme string) (Cred, error) {
	if c := (Cred{User: os.Getenv(EnvUser), Password: os.Getenv(EnvPassword)}); c.User != "" && c.Password != "" {
		return c, nil
	}
	m, err := readCreds(configDir)
	if err != nil {
		return Cred{}, err
	}
	best, found := "", Cred{}
	for k, c := range m {
		if strings.HasPrefix(u.String(), k) && len(k) > len(best) {
			best, found = k, c
		}
	}
	if best == "" {
		return Cred{}, fmt.Errorf("%w: no user name and app password for %s: run `miexit auth %s %s` (or set %s and %s)", mapping.ErrBadInput, u.Redacted(), scheme, u.Redacted(), EnvUser, EnvPassword)
	}
	return found, nil
}

// Client sends signed requests to one server.
type Client struct {
	// Scheme is "carddav" or "webdav", for the next step in messages.
	Scheme string
	// Base is the URL the user gave, for messages.
	Base  *url.URL
	Cred  Cred
	HTTP  *http.Client
	Retry retry.Policy
}

// NewClient builds a Client with a transport that keeps a connection per
// worker and gives up on a server that takes a request and never answers.
func NewClient(scheme string, base *url.URL, c Cred, hc *http.Client, conc int) *Client {
	if hc == nil {
		hc = &http.Client{Transport: transport.ForWorkers(conc)}
	}
	return &Client{Scheme: scheme, Base: base, Cred: c, HTTP: hc, Retry: retry.Policy{Pacer: &retry.Pacer{}}}
}

// Do implements go-webdav's HTTPClient: one signed request, no retry.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	req.SetBasicAuth(c.Cred.User, c.Cred.Password)
	return c.HTTP.Do(req)
}

// A Request is what Send sends; Body is called once per attempt so a
// retry sends the whole body again.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   func() (io.ReadCloser, error)
	// Size is the body's length (-1 unknown: sent chunked).
	Size int64
	// OK lists statuses the caller handles itself (a 412, a 404) instead
	// of as errors.
	OK []int
}

// StatusError is a response the caller did not expect.
type StatusError struct {
	Op     string
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, e.Msg) }

// Send sends r under the retry policy and returns the response, whose body
// the caller closes. Statuses in r.OK and 2xx come back; 401/403 are the
// wrong credentials, 507 a full server: both fail at once, saying what to
// do; 423 Locked, 429 and 5xx are retried.
func (c *Client) Send(ctx context.Context, op string, r Request) (*http.Response, error) {
	var resp *http.Response
	err := c.Retry.Do(ctx, op, func(ctx context.Context) error {
		var body io.ReadCloser
		if r.Body != nil {
			b, err := r.Body()
			if err != nil {
				return retry.Permanent(err)
			}
			body = b
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
		if err != nil {
			if body != nil {
				body.Close()
			}
			return retry.Permanent(err)
		}
		if body != nil {
			req.ContentLength = r.Size
			if r.Size == 0 {
				req.Body = http.NoBody
			}
		}
		for k, v := range r.Header {
			req.Header[k] = v
		}
		res, err := c.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return c.explainNet(op, err)
		}
		for _, s := range r.OK {
			if res.StatusCode == s {
				resp = res
				return nil
			}
		}
		if res.StatusCode < 300 {
			resp = res
			return nil
		}
		msg := readMsg(res)
		se := &StatusError{Op: op, Status: res.StatusCode, Msg: msg}
		switch res.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return retry.Permanent(fmt.Errorf("%w: %s refused user %q (HTTP %d): check the user name and app password with `miexit auth %s %s`", mapping.ErrBadInput, c.Base.Redacted(), c.Cred.User, res.StatusCode, c.Scheme, c.Base.Redacted()))
		case http.StatusInsufficientStorage:
			return retry.Permanent(fmt.Errorf("%s: the server at %s is full (HTTP 507 Insufficient Storage): free space or raise the quota there, then run again; what was copied stays", op, c.Base.Host))
		case http.StatusLocked:
			// Someone (a sync client, the web UI) holds a lock on it;
			// locks end, so wait.
			return se
		}
		if retry.Retryable(res.StatusCode) {
			if d := retry.ParseRetryAfter(res.Header.Get("Retry-After"), time.Now()); d > 0 {
				return &retry.After{Err: se, Delay: d}
			}
			return se
		}
		return retry.Permanent(se)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *Client) explainNet(op string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "connection refused") {
		// Refused now may be a server restarting; after the retries the
		// message names the URL and what to check.
		return fmt.Errorf("nothing answers at %s: check the URL and that the server is up (%v)", c.Base.Redacted(), ue.Err)
	}
	return err
}

func readMsg(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		s = http.StatusText(res.StatusCode)
	}
	return s
}

// Drain reads a response body to its end and closes it, so the
// connection is reused.
func Drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<20))
	res.Body.Close()
}

// Response is one <response> of a 207 Multi-Status, with the properties
// of its 200 propstat.
type Response struct {
	Href   string
	Status int // of the response itself or its 200 propstat
	Props  map[xml.Name]string
	// Hrefs holds, for properties whose value is a DAV:href (a principal,
	// a home set), that href as the server wrote it: absolute URLs keep
	// their host (iCloud's home set is on another one).
	Hrefs map[xml.Name]string
	// Collection, AddressBook: what resourcetype said.
	Collection, AddressBook bool
}

type xmlResponse struct {
	Href     string `xml:"DAV: href"`
	Status   string `xml:"DAV: status"`
	Propstat []struct {
		Status string `xml:"DAV: status"`
		Prop   struct {
			Any []xmlProp `xml:",any"`
		} `xml:"DAV: prop"`
	} `xml:"DAV: propstat"`
}

type xmlProp struct {
	XMLName xml.Name
	Inner   string `xml:",chardata"`
	Kids    []struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
	} `xml:",any"`
}

func statusCode(s string) int {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0
	}
	var n int
	fmt.Sscanf(f[1], "%d", &n)
	return n
}

// Names of the properties this package reads.
var (
	ResourceType = xml.Name{Space: "DAV:", Local: "resourcetype"}
	GetETag      = xml.Name{Space: "DAV:", Local: "getetag"}
	GetLength    = xml.Name{Space: "DAV:", Local: "getcontentlength"}
	GetModified  = xml.Name{Space: "DAV:", Local: "getlastmodified"}
	AddressData  = xml.Name{Space: "urn:ietf:params:xml:ns:carddav", Local: "address-data"}
	HomeSet      = xml.Name{Space: "urn:ietf:params:xml:ns:carddav", Local: "addressbook-home-set"}
	OCChecksums  = xml.Name{Space: "http://owncloud.org/ns", Local: "checksums"}
)

// MultiStatus reads a 207 body one <response> at a time, so a listing of
// 10,000 cards with photos never sits in memory whole.
func MultiStatus(body io.Reader) iter.Seq2[Response, error] {
	return func(yield func(Response, error) bool) {
		dec := xml.NewDecoder(body)
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(Response{}, fmt.Errorf("read multistatus: %w", err))
				return
			}
			se, ok := tok.(xml.StartElement)
			if !ok || se.Name.Space != "DAV:" || se.Name.Local != "response" {
				continue
			}
			var xr xmlResponse
			if err := dec.DecodeElement(&xr, &se); err != nil {
				yield(Response{}, fmt.Errorf("read multistatus: %w", err))
				return
			}
			r := Response{Href: strings.TrimSpace(xr.Href), Status: statusCode(xr.Status), Props: map[xml.Name]string{}, Hrefs: map[xml.Name]string{}}
			for _, ps := range xr.Propstat {
				st := statusCode(ps.Status)
				if st != http.StatusOK {
					continue
				}
				r.Status = st
				for _, p := range ps.Prop.Any {
					r.Props[p.XMLName] = p.Inner
					for _, k := range p.Kids {
						if k.XMLName.Space == "DAV:" && k.XMLName.Local == "href" {
							r.Hrefs[p.XMLName] = strings.TrimSpace(k.Text)
							break
						}
					}
					if p.XMLName == ResourceType {
						for _, k := range p.Kids {
							switch {
							case k.XMLName.Space == "DAV:" && k.XMLName.Local == "collection":
								r.Collection = true
							case k.XMLName.Space == AddressData.Space && k.XMLName.Local == "addressbook":
								r.AddressBook = true
							}
						}
					}
				}
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Resolve turns an href from a listing into an absolute URL on base's
// server.
func Resolve(base *url.URL, href string) (*url.URL, error) {
	h, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("bad href %q from %s: %w", href, base.Host, err)
	}
	return base.ResolveReference(h), nil
}
