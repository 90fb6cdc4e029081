package micloud

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/micloudtest"
)

// The fake refuses (401) any login step without all three account
// cookies, so a whole export passing is itself the check that each step
// sent them; the log then shows where each cookie went.
func TestLoginSendsAccountCookiesOnEveryStepAndNowhereElse(t *testing.T) {
	// TokenLife forces a second login mid-run: it must send them too.
	srv := startFake(t, micloudtest.Sample(false), micloudtest.Options{TokenLife: 20})
	runExport(t, newExporter(t, testConfig(srv)), filepath.Join(t.TempDir(), "snap"))
	if srv.Count("login-401") != 0 {
		t.Fatalf("%d login steps refused for missing cookies", srv.Count("login-401"))
	}
	want := []string{"deviceId", "passToken", "userId"}
	steps := map[string]int{}
	for _, r := range srv.Log() {
		if micloudtest.IsLogin(r.Path) {
			steps[r.Path]++
			if !slices.Equal(r.Cookies, want) {
				t.Errorf("login step %s carried cookies %v, want %v", r.Path, r.Cookies, want)
			}
			continue
		}
		if slices.Contains(r.Cookies, "passToken") || slices.Contains(r.Cookies, "deviceId") {
			t.Errorf("%s %s carried the account cookies %v", r.Host, r.Path, r.Cookies)
		}
	}
	logins := srv.TokensIssued()
	if logins < 2 {
		t.Fatalf("only %d logins: the test wants a re-login mid-run", logins)
	}
	for _, p := range []string{"/api/user/login", "/pass/serviceLogin", "/sts"} {
		if steps[p] != logins {
			t.Errorf("%s requested %d times for %d logins", p, steps[p], logins)
		}
	}
	t.Logf("%d logins, login requests per step %v, each with cookies %v", logins, steps, want)
}

func TestLoginStepsRefusedWithoutEveryCookie(t *testing.T) {
	srv := startFake(t, micloudtest.Sample(false), micloudtest.Options{})
	cfg := testConfig(srv)
	cfg.Credentials.DeviceID = "not-a-browser-id" // the fake wants wb_<uuid>
	_, err := newExporter(t, cfg).Inventory(context.Background())
	if !errors.Is(err, ErrPassTokenRefused) || !strings.Contains(err.Error(), "/api/user/login") {
		t.Fatalf("err = %v, want a refusal naming the first step", err)
	}
	if n := srv.Count("login-401"); n != 1 || srv.Requests() != 1 {
		t.Errorf("%d refusals in %d requests: a 401 at login is not retried", n, srv.Requests())
	}
}

// A login URL on a host that is neither the web app's nor Xiaomi's never
// gets the passToken: the login stops with an error naming the host.
func TestLoginURLOnAnotherHostGetsNoCookies(t *testing.T) {
	srv := startFake(t, micloudtest.Sample(false), micloudtest.Options{AccountHost: "localhost"})
	_, err := newExporter(t, testConfig(srv)).Inventory(context.Background())
	if err == nil || !strings.Contains(err.Error(), "localhost") || !strings.Contains(err.Error(), "not a Xiaomi host") {
		t.Fatalf("err = %v, want a refusal naming the host", err)
	}
	if strings.Contains(err.Error(), srv.PassToken()) {
		t.Error("the error shows the passToken")
	}
	for _, r := range srv.Log() {
		if h, _, _ := net.SplitHostPort(r.Host); h != "127.0.0.1" && len(r.Cookies) > 0 {
			t.Errorf("request to %s%s carried cookies %v", r.Host, r.Path, r.Cookies)
		}
	}
	if srv.Count("login") != 0 {
		t.Errorf("the other host got %d requests", srv.Count("login"))
	}
}
