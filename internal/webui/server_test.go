package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/exporters/adb"
	_ "github.com/miexit/miexit/exporters/archive"
	_ "github.com/miexit/miexit/importers/dir"
	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/checklist"
	"github.com/miexit/miexit/internal/verifylog"
)

const sample = "../../testdata/sample"

// page is a server on a real loopback listener and a client that holds
// its cookie, as a browser would.
type page struct {
	t      *testing.T
	srv    *Server
	ts     *httptest.Server
	base   string
	state  string
	config string
	c      *http.Client
}

func newPage(t *testing.T, tweak func(*Options)) *page {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, ts: ts, state: t.TempDir(), config: t.TempDir()}
	opt := Options{Addr: ts.Listener.Addr().String(), Token: tok, StateDir: p.state, ConfigDir: p.config}
	if tweak != nil {
		tweak(&opt)
	}
	if p.srv, err = New(opt); err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = p.srv
	ts.Start()
	t.Cleanup(func() { ts.Close(); p.srv.Close() })
	p.base = ts.URL
	p.c = ts.Client()
	p.c.Jar = &jar{}
	p.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return p
}

// login opens the URL the program prints and keeps the cookie.
func (p *page) login() {
	p.t.Helper()
	resp, err := p.c.Get(p.srv.URL())
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		p.t.Fatalf("the token URL answered %d Location %q, want 303 to / (the token leaves the address bar)", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func (p *page) do(method, path string, body any, hdr map[string]string) (int, string) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", p.base)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *page) json(method, path string, body any, want int, v any) {
	p.t.Helper()
	code, b := p.do(method, path, body, nil)
	if code != want {
		p.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(b), v); err != nil {
			p.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// events reads the event stream until its last event and returns it.
func (p *page) events() (string, Record, int) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.base+"/api/events", nil)
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		p.t.Fatalf("events Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 8<<20)
	var event string
	progress := 0
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		switch event {
		case "progress":
			progress++
		case "end", "idle":
			var rec Record
			json.Unmarshal([]byte(data), &rec)
			return event, rec, progress
		}
	}
	p.t.Fatalf("the event stream ended without end or idle: %v", sc.Err())
	return "", Record{}, 0
}

type jar struct{ cs []*http.Cookie }

func (j *jar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.cs = append(j.cs, cs...) }
func (j *jar) Cookies(*url.URL) []*http.Cookie          { return j.cs }

func TestEveryRequestNeedsTheToken(t *testing.T) {
	p := newPage(t, nil)
	for _, path := range []string{"/", "/api/state", "/assets/app.js", "/?token=0123456789abcdef0123456789abcdef"} {
		code, body := p.do(http.MethodGet, path, nil, nil)
		if code != http.StatusForbidden || !strings.Contains(body, "token") {
			t.Errorf("GET %s without the right token: %d %q, want 403 naming the token", path, code, body)
		}
	}
	code, _ := p.do(http.MethodPost, "/api/jobs", startRequest{From: "archive:" + sample, To: "dir:" + t.TempDir()}, nil)
	if code != http.StatusForbidden {
		t.Errorf("POST /api/jobs without the token: %d, want 403", code)
	}
	if _, err := os.Stat(filepath.Join(p.state, JobFile)); err == nil {
		t.Error("a refused request started a job")
	}
	p.login()
	c := p.c.Jar.(*jar).cs
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v, want one HttpOnly SameSite=Strict cookie", c)
	}
	code, body := p.do(http.MethodGet, "/", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, "Where is your data?") {
		t.Fatalf("GET / with the cookie: %d", code)
	}
	code, body = p.do(http.MethodGet, "/assets/app.js", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, "EventSource") {
		t.Fatalf("GET /assets/app.js: %d", code)
	}
}

func TestHostAndOriginAreChecked(t *testing.T) {
	p := newPage(t, nil)
	p.login()
	_, port, _ := net.SplitHostPort(p.srv.opt.Addr)
	cases := []struct {
		what   string
		method string
		hdr    map[string]string
	}{
		{"a rebinding DNS name", http.MethodGet, map[string]string{"Host": "attacker.example:" + port}},
		{"another port", http.MethodGet, map[string]string{"Host": "127.0.0.1:1"}},
		{"another origin", http.MethodPost, map[string]string{"Origin": "http://attacker.example"}},
		{"another origin on GET", http.MethodGet, map[string]string{"Origin": "http://attacker.example"}},
		{"no origin on a change", http.MethodPost, map[string]string{"Origin": ""}},
		{"a cross-site fetch", http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
	for _, c := range cases {
		path := "/api/state"
		var body any
		if c.method == http.MethodPost {
			path, body = "/api/jobs", startRequest{From: "archive:" + sample, To: "dir:" + filepath.Join(t.TempDir(), "out")}
		}
		code, msg := p.do(c.method, path, body, c.hdr)
		if code != http.StatusForbidden || !strings.HasPrefix(msg, "miexit: ") {
			t.Errorf("%s: %d %q, want 403 with a reason", c.what, code, msg)
		}
	}
	if cur, _ := p.srv.jobs.status(); cur != nil {
		t.Fatal("a refused request started a job")
	}
	code, _ := p.do(http.MethodGet, "/api/state", nil, map[string]string{"Host": "localhost:" + port})
	if code != http.StatusOK {
		t.Errorf("localhost on the same port: %d, want 200", code)
	}
}

func TestNotLoopbackIsRefused(t *testing.T) {
	for _, a := range []string{"0.0.0.0:8080", "192.168.1.2:80", ":8080", "example.com:80"} {
		if _, err := New(Options{Addr: a, Token: "0123456789abcdef0123"}); err == nil {
			t.Errorf("New(%s) served a non-loopback address", a)
		}
	}
	if _, err := New(Options{Addr: "127.0.0.1:1", Token: "short"}); err == nil {
		t.Error("a short token was accepted")
	}
}

// TestMigrateSampleToSafeToSignOut is the page's whole path over HTTP:
// inventory, a migrate with its progress events, one job at a time, the
// verify table and the checklist, read from the history the CLI reads.
func TestMigrateSampleToSafeToSignOut(t *testing.T) {
	hold := make(chan struct{})
	p := newPage(t, nil)
	p.srv.jobs.beforeRun = func(ctx context.Context) {
		select {
		case <-hold:
		case <-ctx.Done():
		}
	}
	p.login()
	from := "archive:" + sample
	var inv struct {
		Counts struct{ Contacts, Messages, Media, Thumbnails int }
	}
	p.json(http.MethodPost, "/api/inventory", map[string]string{"from": from}, http.StatusOK, &inv)
	if inv.Counts.Contacts != 7 || inv.Counts.Messages != 11 || inv.Counts.Thumbnails != 1 {
		t.Fatalf("inventory %+v", inv.Counts)
	}
	out := filepath.Join(t.TempDir(), "backup")
	var rec Record
	const password = "hunter2-backup-password"
	p.json(http.MethodPost, "/api/jobs", startRequest{From: from, To: "dir:" + out, Password: password}, http.StatusAccepted, &rec)
	if rec.Status != Running {
		t.Fatalf("started %+v", rec)
	}
	code, msg := p.do(http.MethodPost, "/api/jobs", startRequest{From: from, To: "dir:" + out}, nil)
	if code != http.StatusConflict || !strings.Contains(msg, "already running") {
		t.Fatalf("a second job: %d %s, want 409 saying one is running", code, msg)
	}
	close(hold)
	event, end, progressEvents := p.events()
	if event != "end" || end.Status != Done || end.Result == nil {
		t.Fatalf("end event %s %+v", event, end)
	}
	if progressEvents == 0 {
		t.Error("no progress event before the end")
	}
	var media *KindProgress
	for i, k := range end.Progress {
		if k.Phase == "import" && k.Kind == "media" {
			media = &end.Progress[i]
		}
	}
	if media == nil || media.Items != 5 || media.Total != 5 || media.Bytes == 0 {
		t.Errorf("import media progress %+v, want 5 of 5 with their bytes", media)
	}
	res := end.Result
	if !res.Verify.OK || len(res.Verify.Rows) != 6 {
		t.Fatalf("verify %+v", res.Verify)
	}
	if res.Safe || !strings.Contains(res.NextStep, "reduced copies") {
		t.Errorf("next step %q: the sample's reduced copy must be named", res.NextStep)
	}
	if len(res.Pictures) != 1 || !strings.HasPrefix(res.Pictures[0].Src, "data:image/jpeg;base64,") {
		t.Errorf("pictures %+v, want the reduced copy as a thumbnail", res.Pictures)
	}
	if len(end.Progress) == 0 {
		t.Error("no progress kept in the record")
	}
	if _, err := os.Stat(filepath.Join(out, "contacts", "contacts.vcf")); err != nil {
		t.Errorf("the destination folder: %v", err)
	}
	hist, err := verifylog.Load(p.state)
	if err != nil || len(hist) != 1 || hist[0].Source != from {
		t.Fatalf("verify history %+v %v: the page must record the verify as the CLI does", hist, err)
	}
	var cl checklist.Report
	p.json(http.MethodGet, "/api/checklist", nil, http.StatusOK, &cl)
	// The checklist agrees with the report's next step: the reduced
	// copy's original is copied nowhere yet.
	if cl.Safe || !strings.Contains(cl.Verdict, "only reduced copies") {
		t.Fatalf("checklist %+v, want not safe, naming the reduced copy", cl)
	}
	st, err := os.Stat(filepath.Join(p.state, JobFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("job record %v %v, want 0600", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(p.state, JobFile)); strings.Contains(string(b), password) {
		t.Error("the job record holds the backup's password")
	}
	// A page opened now sees the finished job.
	event, last, _ := p.events()
	if event != "idle" || last.ID != rec.ID || last.Status != Done {
		t.Errorf("idle %s %+v", event, last)
	}
}

func TestBadInputStartsNothing(t *testing.T) {
	p := newPage(t, nil)
	p.login()
	cases := []struct {
		req  startRequest
		want string
	}{
		{startRequest{From: "archive:/no/such/backup", To: "dir:" + t.TempDir()}, "does not exist"},
		{startRequest{From: "archive:", To: "dir:" + t.TempDir()}, "path of the backup"},
		{startRequest{From: "archive:" + sample, To: "dir:/no/such/parent/out"}, "does not exist"},
		{startRequest{From: "ftp://x", To: "dir:" + t.TempDir()}, "unknown source"},
		{startRequest{From: "archive:" + sample, To: "s3:bucket"}, "unknown destination"},
	}
	for _, c := range cases {
		code, msg := p.do(http.MethodPost, "/api/jobs", c.req, nil)
		if code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
			t.Errorf("%+v: %d %s, want 400 saying %q", c.req, code, msg, c.want)
		}
	}
	code, msg := p.do(http.MethodPost, "/api/inventory", map[string]string{"from": "archive:/no/such/backup"}, nil)
	if code != http.StatusBadRequest || !strings.Contains(msg, "does not exist") {
		t.Errorf("inventory of a missing folder: %d %s", code, msg)
	}
	if _, err := os.Stat(filepath.Join(p.state, JobFile)); err == nil {
		t.Error("bad input started a job")
	}
	code, msg = p.do(http.MethodPost, "/api/jobs/cancel", struct{}{}, nil)
	if code != http.StatusConflict || !strings.Contains(msg, "no migrate is running") {
		t.Errorf("cancel with nothing running: %d %s", code, msg)
	}
	code, msg = p.do(http.MethodPost, "/api/jobs/resume", struct{}{}, nil)
	if code != http.StatusConflict || !strings.Contains(msg, "nothing") && !strings.Contains(msg, "no unfinished") {
		t.Errorf("resume with nothing to resume: %d %s", code, msg)
	}
}

func TestCancelThenResume(t *testing.T) {
	p := newPage(t, nil)
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	p.srv.jobs.beforeRun = func(ctx context.Context) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	p.login()
	out := filepath.Join(t.TempDir(), "backup")
	p.json(http.MethodPost, "/api/jobs", startRequest{From: "archive:" + sample, To: "dir:" + out}, http.StatusAccepted, nil)
	<-started
	var rec Record
	p.json(http.MethodPost, "/api/jobs/cancel", struct{}{}, http.StatusOK, &rec)
	if rec.Status != Cancelled || !rec.Resumable() {
		t.Fatalf("after cancel: %+v", rec)
	}
	// A restarted program sees the cancelled job and can resume it.
	p2 := newPage(t, func(o *Options) { o.StateDir = p.state })
	p2.login()
	var sv stateView
	p2.json(http.MethodGet, "/api/state", nil, http.StatusOK, &sv)
	if sv.Last == nil || sv.Last.Status != Cancelled || sv.Last.To != "dir:"+out {
		t.Fatalf("a new server's last job: %+v", sv.Last)
	}
	close(release)
	p2.json(http.MethodPost, "/api/jobs/resume", struct{}{}, http.StatusAccepted, &rec)
	if rec.From != "archive:"+sample || rec.To != "dir:"+out {
		t.Fatalf("resumed %+v", rec)
	}
	event, end, _ := p2.events()
	if event != "end" || end.Status != Done || !end.Result.Verify.OK {
		t.Fatalf("resumed job ended %s %+v", event, end)
	}
}

func TestARunningRecordIsInterruptedAfterARestart(t *testing.T) {
	state := t.TempDir()
	b, _ := json.Marshal(Record{ID: "x", From: "archive:" + sample, To: "dir:/tmp/x", Status: Running, Started: time.Now()})
	os.WriteFile(filepath.Join(state, JobFile), b, 0o600)
	p := newPage(t, func(o *Options) { o.StateDir = state })
	p.login()
	var sv stateView
	p.json(http.MethodGet, "/api/state", nil, http.StatusOK, &sv)
	if sv.Running != nil || sv.Last == nil || sv.Last.Status != Interrupted || !sv.Last.Resumable() {
		t.Fatalf("state %+v", sv)
	}
}

func TestSecretsNeverReachThePage(t *testing.T) {
	p := newPage(t, nil)
	p.login()
	const pass = "V1:secretPassTokenValue123"
	code, body := p.do(http.MethodPost, "/api/auth/micloud", map[string]string{"user_id": "12345", "pass_token": pass, "region": "eu"}, nil)
	if code != http.StatusOK || strings.Contains(body, "secret") || strings.Contains(body, "12345") {
		t.Fatalf("save: %d %s", code, body)
	}
	code, body = p.do(http.MethodGet, "/api/state", nil, nil)
	if code != http.StatusOK || strings.Contains(body, "secret") || strings.Contains(body, "12345") {
		t.Fatalf("state shows a secret: %s", body)
	}
	var sv stateView
	json.Unmarshal([]byte(body), &sv)
	if !sv.SignedIn["micloud"] {
		t.Error("the saved sign-in is not shown as saved")
	}
	code, body = p.do(http.MethodPost, "/api/auth/micloud", map[string]string{"user_id": "abc", "pass_token": pass}, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "userId") || strings.Contains(body, "secret") {
		t.Errorf("a bad userId: %d %s", code, body)
	}
}

// TestSignInsStartFromThePage checks that each flow starts and hands the
// page the service's sign-in address with a loopback redirect; the rest of
// each flow is the CLI's, tested against fakes in its package.
func TestSignInsStartFromThePage(t *testing.T) {
	t.Setenv("MIEXIT_GOOGLE_CLIENT_ID", "cid.apps.googleusercontent.com")
	t.Setenv("MIEXIT_GOOGLE_CLIENT_SECRET", "not-a-real-secret")
	p := newPage(t, nil)
	p.login()
	for _, c := range []struct {
		service, id, host string
		code              bool
	}{
		{"google", "", "accounts.google.com", false},
		{"onedrive", "00000000-0000-0000-0000-000000000000", "login.microsoftonline.com", false},
		{"dropbox", "appkey123", "www.dropbox.com", true},
	} {
		var v signinView
		p.json(http.MethodPost, "/api/auth/"+c.service, map[string]string{"client_id": c.id}, http.StatusAccepted, &v)
		u, err := url.Parse(v.URL)
		if err != nil || u.Host != c.host || v.State != "waiting" || v.NeedsCode != c.code {
			t.Errorf("%s: %+v, want a %s address", c.service, v, c.host)
			continue
		}
		if strings.Contains(v.URL, "not-a-real-secret") {
			t.Errorf("%s: the client secret reached the page", c.service)
		}
		if r := u.Query().Get("redirect_uri"); !c.code && !strings.HasPrefix(r, "http://127.0.0.1:") {
			t.Errorf("%s: redirect %q, want a 127.0.0.1 listener", c.service, r)
		}
	}
	code, msg := p.do(http.MethodPost, "/api/auth/onedrive", map[string]string{}, nil)
	if code != http.StatusBadRequest || !strings.Contains(msg, "client) ID") {
		t.Errorf("onedrive without an id: %d %s", code, msg)
	}
	code, _ = p.do(http.MethodPost, "/api/auth/icloud", map[string]string{}, nil)
	if code != http.StatusNotFound {
		t.Errorf("unknown service: %d", code)
	}
}

// xiaomiPhone is a fake phone on a fake adb host server, reached by the
// real adb client through ADB_SERVER_SOCKET.
func xiaomiPhone(t *testing.T) *adbtest.Device {
	t.Helper()
	d := adbtest.NewDevice("3f1c9a2e")
	d.Props["ro.mi.os.version.name"] = "OS1.0"
	d.Props["ro.build.version.release"] = "14"
	d.Accounts = []adbtest.Account{{Name: "9876543210", Type: adbtest.XiaomiAccountType}}
	srv := adbtest.NewServer(t, d)
	t.Setenv("ADB_SERVER_SOCKET", "tcp:"+srv.Addr)
	return d
}

func TestPhonesAndTheirChecklist(t *testing.T) {
	xiaomiPhone(t)
	p := newPage(t, nil)
	p.login()
	var d struct{ Devices []adb.Device }
	p.json(http.MethodGet, "/api/devices", nil, http.StatusOK, &d)
	if len(d.Devices) != 1 || d.Devices[0].Model != "Redmi Note 12" || d.Devices[0].OS != "HyperOS OS1.0" || d.Devices[0].Android != "14" {
		t.Fatalf("devices %+v", d)
	}
	var cl checklist.Report
	p.json(http.MethodGet, "/api/checklist?phone=adb:3f1c9a2e", nil, http.StatusOK, &cl)
	if cl.Phone == nil || cl.Phone.Model != "Redmi Note 12" || len(cl.Phone.XiaomiAccounts) != 1 || strings.Contains(cl.Phone.XiaomiAccounts[0], "76543") {
		t.Fatalf("checklist phone %+v, want the model and the account masked", cl.Phone)
	}
	if cl.Safe {
		t.Error("safe with no verify on record")
	}
}
