// Package graph is a small Microsoft Graph v1.0 client for OneDrive files:
// items by path, children listings, simple and resumable uploads, folder
// creation and metadata updates. It is plain net/http on an oauth2
// TokenSource; Microsoft's generated SDK costs tens of megabytes of binary
// for the handful of endpoints used here (docs/onedrive.md).
//
// Every API call goes through one retry.Policy whose Pacer is shared by all
// callers of a Client, so a 429 or 503 with Retry-After pauses every worker,
// as Graph asks.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/transport"
)

// DefaultEndpoint is Graph's production base URL.
const DefaultEndpoint = "https://graph.microsoft.com/v1.0"

// Roots that paths are addressed under.
const (
	Root    = "/me/drive/root"
	AppRoot = "/me/drive/special/approot"
)

// Conflict behaviours; Graph's default for some calls is "replace", so
// callers always pass one.
const (
	Fail    = "fail"
	Replace = "replace"
	Rename  = "rename"
)

// Item is a driveItem, with the fields miexit reads.
type Item struct {
	ID              string          `json:"id,omitempty"`
	Name            string          `json:"name,omitempty"`
	Size            int64           `json:"size,omitempty"`
	ETag            string          `json:"eTag,omitempty"`
	CTag            string          `json:"cTag,omitempty"`
	File            *File           `json:"file,omitempty"`
	Folder          *Folder         `json:"folder,omitempty"`
	FileSystemInfo  *FileSystemInfo `json:"fileSystemInfo,omitempty"`
	ParentReference *ItemReference  `json:"parentReference,omitempty"`
}

// File is the file facet of a driveItem.
type File struct {
	MimeType string `json:"mimeType,omitempty"`
	Hashes   Hashes `json:"hashes"`
}

// Hashes are a file's checksums; QuickXorHash is the only one every kind
// of account has.
type Hashes struct {
	QuickXorHash string `json:"quickXorHash,omitempty"`
	SHA1Hash     string `json:"sha1Hash,omitempty"`
	SHA256Hash   string `json:"sha256Hash,omitempty"`
}

// Folder is the folder facet of a driveItem.
type Folder struct {
	ChildCount int `json:"childCount"`
}

// FileSystemInfo carries the dates a client sets.
type FileSystemInfo struct {
	CreatedDateTime      time.Time `json:"createdDateTime,omitzero"`
	LastModifiedDateTime time.Time `json:"lastModifiedDateTime,omitzero"`
}

// ItemReference points at an item's parent.
type ItemReference struct {
	DriveID string `json:"driveId,omitempty"`
	ID      string `json:"id,omitempty"`
	Path    string `json:"path,omitempty"`
}

// Error is Graph's {"error":{"code","message"}} with the HTTP status.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// IsNotFound reports whether err is Graph's 404 (itemNotFound, or an upload
// session that expired).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsConflict reports whether err is a 409 (nameAlreadyExists).
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusConflict
}

// Options configure a Client.
type Options struct {
	// Endpoint replaces DefaultEndpoint (a fake server in tests).
	Endpoint string
	// Transport is the base RoundTripper for API and upload calls
	// (default transport.ForWorkers(Workers)).
	Transport http.RoundTripper
	// Workers is how many calls the Client's user makes at once (default
	// 4), each keeping its connection.
	Workers int
	// Retry is the policy for every call; its Pacer (created when nil) is
	// shared by every goroutine using the Client.
	Retry retry.Policy
	// PageSize is the $top asked of listings (default 1000); Graph may
	// return smaller pages anyway.
	PageSize int
}

// Client talks to one Graph endpoint for one user.
type Client struct {
	base     string
	api      *http.Client // adds the bearer token
	raw      *http.Client // pre-authenticated URLs: uploads, downloads
	policy   retry.Policy
	pageSize int
}

// New returns a Client using ts for tokens.
func New(ts oauth2.TokenSource, o Options) *Client {
	base := strings.TrimRight(o.Endpoint, "/")
	if base == "" {
		base = DefaultEndpoint
	}
	tr := o.Transport
	if tr == nil {
		tr = transport.ForWorkers(o.Workers)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if o.Retry.Pacer == nil {
		o.Retry.Pacer = &retry.Pacer{}
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	return &Client{
		base: base,
		// The oauth2 transport would add the token to a redirected
		// request too, so redirects (downloads) are followed by hand
		// through the raw client.
		api:      &http.Client{Transport: &oauth2.Transport{Source: ts, Base: tr}, CheckRedirect: noRedirect},
		raw:      &http.Client{Transport: tr},
		policy:   o.Retry,
		pageSize: o.PageSize,
	}
}

// Pacer is the pause shared by every caller of c.
func (c *Client) Pacer() *retry.Pacer { return c.policy.Pacer }

// EscapePath percent-encodes each segment of a slash-separated path for
// Graph's ":/path:" addressing; ':' is escaped too since it ends the path.
func EscapePath(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
	}
	return strings.Join(segs, "/")
}

// ItemPath addresses the item at p under root ("/me/drive/root:/a/b:").
// An empty p is root itself.
func ItemPath(root, p string) string {
	if strings.Trim(p, "/") == "" {
		return root
	}
	return root + ":/" + EscapePath(p) + ":"
}

// sub addresses a sub-resource ("children", "content") of the item at p.
func sub(root, p, res string) string {
	if strings.Trim(p, "/") == "" {
		return root + "/" + res
	}
	return ItemPath(root, p) + "/" + res
}

// classify turns a response into nil or a typed error the retry policy
// understands, consuming the body of an error response.
func classify(resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	gerr := &Error{Status: resp.StatusCode}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		gerr.Code, gerr.Message = env.Error.Code, env.Error.Message
	} else {
		gerr.Message = strings.TrimSpace(string(body))
		if gerr.Message == "" {
			gerr.Message = http.StatusText(resp.StatusCode)
		}
	}
	if !retry.Retryable(resp.StatusCode) {
		return retry.Permanent(gerr)
	}
	if d := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); d > 0 {
		return &retry.After{Err: gerr, Delay: d}
	}
	return gerr
}

// do sends one request built by mk (called per attempt, so bodies are
// fresh) and decodes a JSON answer into out when out is non-nil.
func (c *Client) do(ctx context.Context, op string, hc *http.Client, mk func(ctx context.Context) (*http.Request, error), out any) error {
	err := c.policy.Do(ctx, op, func(ctx context.Context) error {
		req, err := mk(ctx)
		if err != nil {
			return retry.Permanent(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			var rerr *oauth2.RetrieveError
			if errors.As(err, &rerr) {
				// A refused refresh token will not get better by waiting.
				return retry.Permanent(err)
			}
			return err
		}
		defer resp.Body.Close()
		if err := classify(resp); err != nil {
			return err
		}
		if out == nil {
			io.Copy(io.Discard, resp.Body)
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("graph %s: %w", op, err)
	}
	return nil
}

func (c *Client) jsonReq(method, rel string, body any) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		var r io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return nil, err
			}
			r = bytes.NewReader(b)
		}
		u := rel
		if !strings.HasPrefix(rel, "http://") && !strings.HasPrefix(rel, "https://") {
			u = c.base + rel
		}
		req, err := http.NewRequestWithContext(ctx, method, u, r)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}
}

// Item returns the item at p under root.
func (c *Client) Item(ctx context.Context, root, p string) (*Item, error) {
	var it Item
	if err := c.do(ctx, "get "+p, c.api, c.jsonReq(http.MethodGet, ItemPath(root, p), nil), &it); err != nil {
		return nil, err
	}
	return &it, nil
}

// Drive is the signed-in account's drive. Its ID stays the same for the
// account, whatever happens to its files.
type Drive struct {
	ID        string `json:"id"`
	DriveType string `json:"driveType,omitempty"`
}

// Drive returns the signed-in account's drive (GET /me/drive).
func (c *Client) Drive(ctx context.Context) (*Drive, error) {
	var d Drive
	if err := c.do(ctx, "get drive", c.api, c.jsonReq(http.MethodGet, "/me/drive", nil), &d); err != nil {
		return nil, err
	}
	if d.ID == "" {
		return nil, fmt.Errorf("graph: GET /me/drive gave no drive id")
	}
	return &d, nil
}

type page struct {
	Value    []Item `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// Children lists the folder at p under root, following @odata.nextLink
// verbatim until Graph stops giving one.
func (c *Client) Children(ctx context.Context, root, p string) func(yield func(Item, error) bool) {
	return func(yield func(Item, error) bool) {
		next := sub(root, p, "children") + fmt.Sprintf("?$top=%d", c.pageSize)
		for next != "" {
			var pg page
			if err := c.do(ctx, "list "+p, c.api, c.jsonReq(http.MethodGet, next, nil), &pg); err != nil {
				yield(Item{}, err)
				return
			}
			for _, it := range pg.Value {
				if !yield(it, nil) {
					return
				}
			}
			next = pg.NextLink
		}
	}
}

// CreateFolder creates the folder name inside the folder at parent.
func (c *Client) CreateFolder(ctx context.Context, root, parent, name, conflict string) (*Item, error) {
	body := map[string]any{"name": name, "folder": map[string]any{}, "@microsoft.graph.conflictBehavior": conflict}
	var it Item
	if err := c.do(ctx, "create folder "+strings.TrimRight(parent, "/")+"/"+name, c.api, c.jsonReq(http.MethodPost, sub(root, parent, "children"), body), &it); err != nil {
		return nil, err
	}
	return &it, nil
}

// PutContent uploads a small file (Graph takes up to 4 MiB this way) to p
// under root in one request. conflict goes in the query string, the only
// place this call accepts it.
func (c *Client) PutContent(ctx context.Context, root, p string, r io.ReaderAt, size int64, conflict string) (*Item, error) {
	var it Item
	mk := func(ctx context.Context) (*http.Request, error) {
		u := c.base + sub(root, p, "content") + "?@microsoft.graph.conflictBehavior=" + conflict
		var body io.Reader = io.NewSectionReader(r, 0, size)
		if size == 0 {
			// A zero length with a body would be sent chunked.
			body = http.NoBody
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
		return req, nil
	}
	if err := c.do(ctx, "upload "+p, c.api, mk, &it); err != nil {
		return nil, err
	}
	return &it, nil
}

// SetFileSystemInfo sets an item's dates: a simple upload cannot.
func (c *Client) SetFileSystemInfo(ctx context.Context, id string, fsi FileSystemInfo) (*Item, error) {
	var it Item
	body := map[string]any{"fileSystemInfo": fsi}
	if err := c.do(ctx, "set dates of "+id, c.api, c.jsonReq(http.MethodPatch, "/me/drive/items/"+url.PathEscape(id), body), &it); err != nil {
		return nil, err
	}
	return &it, nil
}

// Delete removes the item with id.
func (c *Client) Delete(ctx context.Context, id string) error {
	return c.do(ctx, "delete "+id, c.api, c.jsonReq(http.MethodDelete, "/me/drive/items/"+url.PathEscape(id), nil), nil)
}

// Download opens the content of the item at p. Graph answers with a
// redirect to a pre-authenticated URL, fetched without the token.
func (c *Client) Download(ctx context.Context, root, p string) (io.ReadCloser, error) {
	var body io.ReadCloser
	err := c.policy.Do(ctx, "download "+p, func(ctx context.Context) error {
		req, err := c.jsonReq(http.MethodGet, sub(root, p, "content"), nil)(ctx)
		if err != nil {
			return retry.Permanent(err)
		}
		resp, err := c.api.Do(req)
		if err != nil {
			return err
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			resp.Body.Close()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
			if err != nil {
				return retry.Permanent(err)
			}
			if resp, err = c.raw.Do(req); err != nil {
				return err
			}
		}
		if err := classify(resp); err != nil {
			resp.Body.Close()
			return err
		}
		body = resp.Body
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("graph download %s: %w", p, err)
	}
	return body, nil
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
