package webui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miexit/miexit/exporters/adb"
	"github.com/miexit/miexit/exporters/micloud"
	"github.com/miexit/miexit/importers/dropbox"
	"github.com/miexit/miexit/importers/google"
	"github.com/miexit/miexit/importers/onedrive"
	"github.com/miexit/miexit/internal/checklist"
	"github.com/miexit/miexit/internal/oauthcli"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/verifylog"
)

// stateView is what the page needs on load. Signed-in states are booleans:
// no token, cookie or id ever reaches the page.
type stateView struct {
	Running  *Record               `json:"running,omitempty"`
	Progress []KindProgress        `json:"progress,omitempty"`
	Last     *Record               `json:"last,omitempty"`
	SignedIn map[string]bool       `json:"signed_in"`
	SignIns  map[string]signinView `json:"signins"`
	// Home is a suggested place for a local copy.
	Suggest   string `json:"suggest_dest"`
	StateDir  string `json:"state_dir"`
	ConfigDir string `json:"config_dir"`
	// HasClient says which services have the app id they need already
	// configured (so the page does not ask for it).
	HasClient map[string]bool `json:"has_client"`
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	cur, last := s.jobs.status()
	v := stateView{Last: last, SignedIn: s.signedIn(), SignIns: s.signinViews(), StateDir: s.opt.StateDir, ConfigDir: s.opt.ConfigDir}
	if cur != nil {
		rec := cur.rec
		v.Running, v.Progress = &rec, cur.track.snapshot()
	}
	if h, err := os.UserHomeDir(); err == nil {
		v.Suggest = filepath.Join(h, "miexit-backup")
	}
	_, gerr := google.OAuthConfig(s.opt.ConfigDir)
	v.HasClient = map[string]bool{
		"google":   gerr == nil,
		"dropbox":  os.Getenv("MIEXIT_DROPBOX_APP_KEY") != "",
		"onedrive": os.Getenv("MIEXIT_ONEDRIVE_CLIENT_ID") != "",
	}
	writeJSON(w, http.StatusOK, v)
}

// signedIn says which services have a stored sign-in; only whether, never
// what.
func (s *Server) signedIn() map[string]bool {
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(s.opt.ConfigDir, name))
		return err == nil
	}
	_, mierr := micloud.LoadCredentials(s.opt.ConfigDir)
	return map[string]bool{
		"micloud":  mierr == nil,
		"google":   has(filepath.Base(oauthcli.Store{Dir: s.opt.ConfigDir}.Path("google"))),
		"dropbox":  has(dropbox.TokenFile),
		"onedrive": has(onedrive.TokenFile),
	}
}

func (s *Server) handleDevices(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	devs, err := adb.Devices(ctx)
	if err != nil {
		fail(w, http.StatusServiceUnavailable, fmt.Sprintf("phones cannot be listed: %v. Install adb (Android platform tools), turn on USB debugging on the phone (Settings > Additional settings > Developer options), plug it in and accept the prompt", err))
		return
	}
	if devs == nil {
		devs = []adb.Device{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": devs})
}

func (s *Server) handleInventory(w http.ResponseWriter, r *http.Request) {
	var req struct {
		From     string `json:"from"`
		Password string `json:"password,omitempty"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if err := checkFrom(req.From); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	o := pipeline.Options{StateDir: s.opt.StateDir, ConfigDir: s.opt.ConfigDir, Password: req.Password, Log: s.opt.Log}
	inv, err := pipeline.Inventory(r.Context(), req.From, o)
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Sprintf("%s cannot be read: %v", req.From, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": req.From, "counts": inv.Counts, "extra": inv.Extra, "notices": inv.Notices})
}

// handleChecklist is `miexit checklist` for the page: the same history,
// the same verdict; ?phone=SERIAL (or "adb" for the only phone) asks the
// phone too, ?to= limits it to one destination.
func (s *Server) handleChecklist(w http.ResponseWriter, r *http.Request) {
	in := checklist.Input{Destination: r.URL.Query().Get("to")}
	if phone, ok := r.URL.Query()["phone"]; ok {
		serial := strings.TrimPrefix(strings.TrimPrefix(phone[0], "adb"), ":")
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		in.PhoneAsked = true
		in.Phone, in.PhoneErr = checklist.ReadPhoneBySerial(ctx, serial)
		cancel()
	}
	in.History, in.HistoryErr = verifylog.Load(s.opt.StateDir)
	writeJSON(w, http.StatusOK, checklist.Build(in))
}

func (s *Server) handleMiCloud(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID    string `json:"user_id"`
		PassToken string `json:"pass_token"`
		Region    string `json:"region,omitempty"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if err := micloud.SaveAuth(s.opt.ConfigDir, strings.TrimSpace(req.UserID), strings.TrimSpace(req.PassToken)); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Region != "" {
		if err := micloud.SetRegion(s.opt.ConfigDir, req.Region); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"saved": true})
}

// signin is one sign-in flow started from the page: it runs the same
// library code as `miexit auth SERVICE`, and the page opens the service's
// address the flow gives; the service redirects to the flow's own one-time
// listener on 127.0.0.1, and the page sees the result here.
type signin struct {
	service string
	cancel  context.CancelFunc
	code    *io.PipeWriter // dropbox: the pasted code

	// guarded by Server.authMu
	state, url, message string
}

type signinView struct {
	State   string `json:"state"` // waiting, done, failed
	URL     string `json:"url,omitempty"`
	Message string `json:"message,omitempty"`
	// NeedsCode: paste the code the service shows (Dropbox).
	NeedsCode bool `json:"needs_code,omitempty"`
}

func (s *Server) signinViews() map[string]signinView {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	out := map[string]signinView{}
	for k, si := range s.signins {
		out[k] = signinView{State: si.state, URL: si.url, Message: si.message, NeedsCode: si.code != nil && si.state == "waiting"}
	}
	return out
}

// signinWait bounds how long a flow waits for the person.
const signinWait = 10 * time.Minute

func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	service := r.PathValue("service")
	var req struct {
		ClientID string `json:"client_id,omitempty"` // OneDrive's app id, Dropbox's app key
	}
	if !readJSON(w, r, &req) {
		return
	}
	id := strings.TrimSpace(req.ClientID)
	switch service {
	case "google":
	case "dropbox":
		if id == "" {
			id = os.Getenv("MIEXIT_DROPBOX_APP_KEY")
		}
	case "onedrive":
		if id == "" {
			id = os.Getenv("MIEXIT_ONEDRIVE_CLIENT_ID")
		}
	default:
		fail(w, http.StatusNotFound, fmt.Sprintf("no sign-in for %q: the page signs in to google, dropbox and onedrive", service))
		return
	}
	if service != "google" && id == "" {
		fail(w, http.StatusBadRequest, map[string]string{
			"dropbox":  "type your Dropbox app's key (see the steps above)",
			"onedrive": "type your app registration's Application (client) ID (see the steps above)",
		}[service])
		return
	}

	s.authMu.Lock()
	if old := s.signins[service]; old != nil && old.state == "waiting" {
		// A new start replaces a flow the person abandoned.
		old.cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), signinWait)
	si := &signin{service: service, cancel: cancel, state: "waiting"}
	s.signins[service] = si
	s.authMu.Unlock()

	urlc := make(chan string, 1)
	open := func(u string) error {
		s.authMu.Lock()
		si.url = u
		s.authMu.Unlock()
		select {
		case urlc <- u:
		default:
		}
		return nil
	}
	out := io.Discard
	var err error
	run := func() error { return nil }
	switch service {
	case "google":
		run = func() error {
			_, err := google.Auth(ctx, google.AuthOptions{ConfigDir: s.opt.ConfigDir, Out: out, Open: open})
			return err
		}
	case "onedrive":
		run = func() error {
			flow := oauthcli.Flow{Config: *onedrive.OAuthConfig(id, ""), Out: out, Open: open}
			tok, err := flow.Run(ctx)
			if err != nil {
				return fmt.Errorf("onedrive sign-in: %w", err)
			}
			return onedrive.SaveToken(filepath.Join(s.opt.ConfigDir, onedrive.TokenFile), id, tok)
		}
	case "dropbox":
		pr, pw := io.Pipe()
		s.authMu.Lock()
		si.code = pw
		s.authMu.Unlock()
		// Dropbox's flow reads the code without watching ctx: closing the
		// pipe ends a flow the person abandoned.
		context.AfterFunc(ctx, func() { pw.CloseWithError(errors.New("the sign-in was abandoned or replaced; start it again")) })
		run = func() error {
			defer pr.Close()
			return dropbox.Auth(ctx, dropbox.AuthOptions{AppKey: id, ConfigDir: s.opt.ConfigDir, Open: open, Out: out, In: pr})
		}
	}
	done := make(chan error, 1)
	go func() {
		err := run()
		cancel()
		s.authMu.Lock()
		if err != nil {
			si.state, si.message = "failed", oauthcli.SafeError(err).Error()
		} else {
			si.state, si.message = "done", "signed in; the token is stored in miexit's config folder (0600)"
		}
		s.authMu.Unlock()
		s.opt.Log.Info("ui: sign-in ended", "service", service, "err", err)
		done <- err
	}()
	select {
	case u := <-urlc:
		writeJSON(w, http.StatusAccepted, signinView{State: "waiting", URL: u, NeedsCode: service == "dropbox"})
	case err = <-done:
		if err == nil {
			writeJSON(w, http.StatusOK, signinView{State: "done"})
			return
		}
		fail(w, http.StatusBadRequest, oauthcli.SafeError(err).Error())
	case <-time.After(15 * time.Second):
		fail(w, http.StatusGatewayTimeout, "the sign-in did not start in time; try again")
	}
}

func (s *Server) handleDropboxCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	s.authMu.Lock()
	si := s.signins["dropbox"]
	waiting := si != nil && si.code != nil && si.state == "waiting"
	s.authMu.Unlock()
	if !waiting {
		fail(w, http.StatusConflict, "no Dropbox sign-in is waiting for a code: start it again")
		return
	}
	code := strings.TrimSpace(req.Code)
	if code == "" {
		fail(w, http.StatusBadRequest, "paste the code Dropbox showed")
		return
	}
	go func() {
		// The flow reads one line; a write blocked on a flow that ended
		// is released by its pipe's close.
		si.code.Write([]byte(code + "\n"))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s.authMu.Lock()
		st, msg := si.state, si.message
		s.authMu.Unlock()
		switch st {
		case "done":
			writeJSON(w, http.StatusOK, signinView{State: st, Message: msg})
			return
		case "failed":
			fail(w, http.StatusBadRequest, msg)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fail(w, http.StatusGatewayTimeout, "Dropbox did not answer in time; try again")
}
