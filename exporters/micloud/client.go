package micloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/mapping"
)

// UserAgent is a desktop browser's: the web app's servers expect one.
const UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// Errors a caller (the CLI) may branch on; each message says what to do.
var (
	ErrPassTokenRefused = errors.New("Mi Cloud refused the passToken (it expired, or the browser session it came from was signed out): " +
		"sign in at https://i.mi.com in a browser, tick \"trust this device\", copy the userId and passToken cookies of account.xiaomi.com again and run `miexit auth micloud`")
	ErrSecondValidation = errors.New("Mi Cloud asks for a second verification (isSecondValidation): " +
		"open https://i.mi.com in the browser you took the passToken from, pass the check there (SMS or e-mail code), tick \"trust this device\", then run `miexit auth micloud` with the fresh passToken")
	ErrEncrypted = errors.New("this Xiaomi account uses end-to-end encryption (Advanced Data Protection): the web service does not serve its data. " +
		"Copy the data from the phone instead (`miexit export adb:`), or turn the encryption off in the phone's Xiaomi Cloud settings and try again")
	// errExpired is a session the service no longer accepts: mint a new serviceToken.
	errExpired = errors.New("serviceToken expired")
)

// APIError is an envelope whose code is not 0.
type APIError struct {
	Endpoint    string
	Code        int64
	Description string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: Mi Cloud answered code %d (%s)", e.Endpoint, e.Code, e.Description)
}

// codeDeleted is the storage step's answer for a file the service deleted.
const codeDeleted = 50050

// client talks to i.mi.com: cookies, login, pacing, retries, envelopes.
type client struct {
	base  *url.URL
	cred  Credentials
	hc    *http.Client
	retry retry.Policy
	log   *slog.Logger
	debug *slog.Logger // nil unless debug HTTP logging is on

	pace     sync.Mutex
	interval time.Duration
	next     time.Time

	mu     sync.Mutex
	token  string // serviceToken
	gen    int    // bumped at every login
	logins int
}

func newClient(cred Credentials, cfg Config) (*client, error) {
	base, err := url.Parse(cred.BaseURL())
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("%w: Mi Cloud endpoint %q is not a URL", mapping.ErrBadInput, cred.BaseURL())
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 0, Transport: http.DefaultTransport}
	}
	// Redirects are read by hand: the login's 302 carries the sts URL, and
	// the note file's 302 must take the cookies along to the storage host.
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cp.Jar = nil
	c := &client{base: base, cred: cred, hc: &cp, retry: cfg.Retry, log: cfg.Log, interval: cfg.MinInterval}
	if cfg.DebugHTTP {
		c.debug = cfg.Log
	}
	if c.retry.Attempts == 0 {
		c.retry.Attempts = 8
	}
	if c.retry.Pacer == nil {
		c.retry.Pacer = &retry.Pacer{}
	}
	return c, nil
}

func nowMS() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

// wait paces requests: at most one start per interval across all workers.
func (c *client) wait(ctx context.Context) error {
	if c.interval <= 0 {
		return ctx.Err()
	}
	c.pace.Lock()
	now := time.Now()
	at := c.next
	if at.Before(now) {
		at = now
	}
	c.next = at.Add(c.interval)
	c.pace.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return ctx.Err()
}

func (c *client) session() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.gen
}

// sameSite says whether cookies may go to u: the web app's own host, or a
// Xiaomi host (the note file's storage host wants them too).
func (c *client) sameSite(u *url.URL) bool {
	h := u.Hostname()
	if h == c.base.Hostname() {
		return true
	}
	for _, s := range []string{".mi.com", ".xiaomi.com", ".xiaomi.net", ".mi-img.com"} {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// send makes one HTTP request with the browser's headers and the session
// cookies (when the host may have them), logging it when debugging.
func (c *client) send(ctx context.Context, method string, u *url.URL, body io.Reader, ctype string, cookies map[string]string) (*http.Response, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json, text/plain, */*")
	req.Header.Set("Referer", c.base.String()+"/")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if c.debug != nil {
		if err != nil {
			c.debug.Debug("http", "method", method, "url", redactURL(u), "err", redactText(err.Error()))
		} else {
			c.debug.Debug("http", "method", method, "url", redactURL(u), "status", resp.StatusCode,
				"type", resp.Header.Get("Content-Type"), "length", resp.ContentLength, "location", redactText(resp.Header.Get("Location")),
				"took", time.Since(start).Round(time.Millisecond))
		}
	}
	return resp, err
}

func (c *client) dataCookies(u *url.URL) map[string]string {
	if !c.sameSite(u) {
		return nil
	}
	tok, _ := c.session()
	return map[string]string{"userId": c.cred.UserID, "serviceToken": tok}
}

// withSession runs fn (itself retried on 5xx and resets) and, when the
// service says the session expired, mints a new serviceToken and runs fn
// again, so a run keeps its place across token deaths.
func (c *client) withSession(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if err := c.ensureLogin(ctx); err != nil {
		return err
	}
	for i := 0; ; i++ {
		_, gen := c.session()
		err := c.retry.Do(ctx, op, fn)
		if !errors.Is(err, errExpired) {
			return err
		}
		if i >= 3 {
			return fmt.Errorf("%s: the session keeps expiring right after a new login: %w", op, ErrPassTokenRefused)
		}
		c.log.Info("Mi Cloud session expired; signing in again", "op", op)
		if err := c.relogin(ctx, gen); err != nil {
			return err
		}
	}
}

func (c *client) ensureLogin(ctx context.Context) error {
	tok, gen := c.session()
	if tok != "" {
		return nil
	}
	return c.relogin(ctx, gen)
}

// relogin mints a serviceToken unless another worker already replaced the
// one of generation gen.
func (c *client) relogin(ctx context.Context, gen int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen && c.token != "" {
		return nil
	}
	tok, err := c.login(ctx)
	if err != nil {
		return err
	}
	c.token = tok
	c.gen++
	c.logins++
	return nil
}

// loginCookies are what each login step carries: the account's userId and
// passToken and the browser's deviceId, all three on all three steps, as
// the peer tools send them (a server that wants them answers 401 without).
// They go only to the web app's host or a Xiaomi host: a step that points
// anywhere else fails rather than hand the passToken over.
func (c *client) loginCookies(step string, u *url.URL) (map[string]string, error) {
	if !c.sameSite(u) {
		return nil, retry.Permanent(fmt.Errorf("login: the %s step points at %s, which is not a Xiaomi host; miexit does not send the passToken there: Mi Cloud may have changed; report it with --debug-http", step, u.Hostname()))
	}
	return map[string]string{"userId": c.cred.UserID, "passToken": c.cred.PassToken, "deviceId": c.cred.DeviceID}, nil
}

// loginStep GETs one login step with the account cookies and reads it.
// A 401 or 403 is the account's refusal, not a fault to retry.
func (c *client) loginStep(ctx context.Context, step string, u *url.URL) (*http.Response, []byte, error) {
	ck, err := c.loginCookies(step, u)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.send(ctx, http.MethodGet, u, nil, "", ck)
	if err != nil {
		return nil, nil, err
	}
	body, err := readBody(resp)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		if bytes.Contains(body, []byte("isSecondValidation\":true")) {
			return nil, nil, retry.Permanent(ErrSecondValidation)
		}
		return nil, nil, retry.Permanent(fmt.Errorf("login (%s): HTTP %d: %w", step, resp.StatusCode, ErrPassTokenRefused))
	}
	if err := retry.Classify(resp, snippet(body)); err != nil {
		return nil, nil, fmt.Errorf("login (%s): %w", step, err)
	}
	return resp, body, nil
}

// login is the passToken exchange, with redirects read by hand:
// /api/user/login -> data.loginUrl; loginUrl -> 302 to /sts; /sts ->
// Set-Cookie serviceToken. Every step carries loginCookies.
func (c *client) login(ctx context.Context) (string, error) {
	u := c.endpoint("/api/user/login", url.Values{"followUp": {c.base.String() + "/"}, "_locale": {"en_US"}})
	var loginURL string
	err := c.retry.Do(ctx, "login", func(ctx context.Context) error {
		_, body, err := c.loginStep(ctx, "/api/user/login", u)
		if err != nil {
			return err
		}
		var env struct {
			Data struct {
				LoginURL string `json:"loginUrl"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.Data.LoginURL == "" {
			return retry.Permanent(fmt.Errorf("login: /api/user/login answered %s, not JSON with data.loginUrl: Mi Cloud may have changed; report it with --debug-http", describe(body)))
		}
		loginURL = env.Data.LoginURL
		return nil
	})
	if err != nil {
		return "", err
	}
	lu, err := url.Parse(loginURL)
	if err != nil || (lu.Scheme != "https" && lu.Scheme != "http") {
		return "", fmt.Errorf("login: the login URL %q is not a web address", redactText(loginURL))
	}
	var sts *url.URL
	err = c.retry.Do(ctx, "login", func(ctx context.Context) error {
		resp, body, err := c.loginStep(ctx, "loginUrl", lu)
		if err != nil {
			return err
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			if looksEncrypted(body) {
				return retry.Permanent(ErrEncrypted)
			}
			if bytes.Contains(body, []byte("isSecondValidation\":true")) {
				return retry.Permanent(ErrSecondValidation)
			}
			return retry.Permanent(ErrPassTokenRefused)
		}
		sts, err = lu.Parse(loc)
		return err
	})
	if err != nil {
		return "", err
	}
	var tok string
	err = c.retry.Do(ctx, "login", func(ctx context.Context) error {
		resp, body, err := c.loginStep(ctx, "/sts", sts)
		if err != nil {
			return err
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "serviceToken" && ck.Value != "" {
				tok = ck.Value
			}
		}
		if tok == "" {
			if looksEncrypted(body) {
				return retry.Permanent(ErrEncrypted)
			}
			return retry.Permanent(ErrPassTokenRefused)
		}
		return nil
	})
	return tok, err
}

// endpoint builds base+path?query&ts=<ms>: every call carries ts.
func (c *client) endpoint(path string, q url.Values) *url.URL {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	if q == nil {
		q = url.Values{}
	}
	q.Set("ts", nowMS())
	u.RawQuery = q.Encode()
	return &u
}

// envelope is the service's answer around every data call.
type envelope struct {
	Result      string          `json:"result"`
	Code        flexInt         `json:"code"`
	Description string          `json:"description"`
	Data        json.RawMessage `json:"data"`
	// An expired session: R 401, D a re-login URL.
	R                  flexInt `json:"R"`
	IsSecondValidation bool    `json:"isSecondValidation"`
}

// getJSON GETs a data endpoint and decodes data into out, checking the
// envelope; check then verifies the shape of what was decoded.
func (c *client) getJSON(ctx context.Context, name, path string, q url.Values, out any, check func() error) error {
	return c.withSession(ctx, name, func(ctx context.Context) error {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		u := c.endpoint(path, qq)
		resp, err := c.send(ctx, http.MethodGet, u, nil, "", c.dataCookies(u))
		if err != nil {
			return err
		}
		body, err := readBody(resp)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return c.decode(name, resp, body, out, check)
	})
}

func (c *client) decode(name string, resp *http.Response, body []byte, out any, check func() error) error {
	if c.debug != nil {
		// The shape (keys and types, no values) is what tells a change on
		// Xiaomi's side, without putting anyone's data in a bug report.
		c.debug.Debug("http response", "endpoint", name, "status", resp.StatusCode, "shape", shape(body))
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden && bytes.Contains(body, []byte(`"R":401`)) {
		return sessionError(body)
	}
	if err := retry.Classify(resp, snippet(body)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return retry.Permanent(fmt.Errorf("%s: unexpected HTTP %d: Mi Cloud may have changed; report it with --debug-http", name, resp.StatusCode))
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return retry.Permanent(fmt.Errorf("%s: the answer is %s, not the JSON envelope expected: Mi Cloud may have changed; report it with --debug-http", name, describe(body)))
	}
	if env.R == 401 {
		return sessionError(body)
	}
	if env.Result != "ok" || env.Code != 0 {
		if looksEncrypted(body) {
			return retry.Permanent(ErrEncrypted)
		}
		if env.Result == "" && env.Data == nil {
			return retry.Permanent(fmt.Errorf("%s: the answer has neither result nor data (%s): Mi Cloud may have changed; report it with --debug-http", name, describe(body)))
		}
		return retry.Permanent(&APIError{Endpoint: name, Code: int64(env.Code), Description: env.Description})
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return retry.Permanent(fmt.Errorf("%s: the answer has no data: Mi Cloud may have changed; report it with --debug-http", name))
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return retry.Permanent(fmt.Errorf("%s: unexpected data shape (%v): Mi Cloud may have changed; report it with --debug-http", name, err))
	}
	if check != nil {
		if err := check(); err != nil {
			return retry.Permanent(fmt.Errorf("%s: unexpected data shape: %w: Mi Cloud may have changed; report it with --debug-http", name, err))
		}
	}
	return nil
}

func sessionError(body []byte) error {
	var s struct {
		IsSecondValidation bool `json:"isSecondValidation"`
	}
	json.Unmarshal(body, &s)
	if s.IsSecondValidation {
		return retry.Permanent(ErrSecondValidation)
	}
	if looksEncrypted(body) {
		return retry.Permanent(ErrEncrypted)
	}
	return retry.Permanent(errExpired)
}

func looksEncrypted(body []byte) bool {
	l := bytes.ToLower(body)
	for _, s := range []string{"e2ee", "end-to-end", "advanced data protection", "端到端"} {
		if bytes.Contains(l, []byte(s)) {
			return true
		}
	}
	return false
}

// maxJSON bounds one JSON answer; pages are far smaller.
const maxJSON = 64 << 20

func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSON+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJSON {
		return nil, retry.Permanent(fmt.Errorf("answer over %d bytes", maxJSON))
	}
	return b, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return redactText(s)
}

func describe(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return "empty"
	}
	return strconv.Quote(snippet(b))
}

var (
	secretParams = map[string]bool{"passtoken": true, "servicetoken": true, "auth": true, "ticket": true, "nonce": true,
		"_ssign": true, "clientsign": true, "meta": true, "sig": true, "signature": true, "token": true, "d": true, "callback": false}
	secretJSON = regexp.MustCompile(`(?i)("(?:passToken|serviceToken|meta|loginUrl|url|D|ticket|auth|nonce)"\s*:\s*")[^"]*(")`)
	secretKV   = regexp.MustCompile(`(?i)\b(passToken|serviceToken|auth|ticket|nonce|_ssign|clientSign|meta|sig)=([^&;\s"]+)`)
)

// redactURL drops the values of every query parameter that may carry a
// token or a signature.
func redactURL(u *url.URL) string {
	cp := *u
	q := cp.Query()
	for k := range q {
		if secretParams[strings.ToLower(k)] {
			q.Set(k, "REDACTED")
		}
	}
	cp.RawQuery = q.Encode()
	cp.User = nil
	return cp.String()
}

// redactText removes token-looking values from free text (errors, bodies,
// Location headers).
func redactText(s string) string {
	s = secretJSON.ReplaceAllString(s, `${1}REDACTED${2}`)
	return secretKV.ReplaceAllString(s, `${1}=REDACTED`)
}

// flexInt decodes a number given as a JSON number or a string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return fmt.Errorf("%s is not a number", b)
		}
		v = int64(fl)
	}
	*f = flexInt(v)
	return nil
}

// flexID decodes an id given as a JSON number or a string.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %s is neither a number nor a string", b)
	}
	*f = flexID(n.String())
	return nil
}

// shape describes a JSON document by its keys and value types, with array
// lengths and the shape of their first element, never the values.
func shape(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Sprintf("not JSON (%d bytes)", len(body))
	}
	var b strings.Builder
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 6 {
			b.WriteString("…")
			return
		}
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteString("{")
			for i, k := range keys {
				if i > 0 {
					b.WriteString(",")
				}
				if len(keys) > 20 && i >= 20 {
					fmt.Fprintf(&b, "…%d more", len(keys)-20)
					break
				}
				b.WriteString(k + ":")
				walk(t[k], depth+1)
			}
			b.WriteString("}")
		case []any:
			fmt.Fprintf(&b, "[%d]", len(t))
			if len(t) > 0 {
				walk(t[0], depth+1)
			}
		case string:
			b.WriteString("str")
		case float64:
			b.WriteString("num")
		case bool:
			b.WriteString("bool")
		case nil:
			b.WriteString("null")
		}
	}
	walk(v, 0)
	return b.String()
}
