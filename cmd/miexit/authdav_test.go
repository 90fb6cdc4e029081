package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/dav"
	"github.com/miexit/miexit/internal/davtest"
	"github.com/miexit/miexit/internal/statedir"
)

// noSecret fails when the password shows in anything miexit wrote: its
// output, its logs (-v), or the files of its state folder.
func noSecret(t *testing.T, secret string, r result) {
	t.Helper()
	if strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret) {
		t.Errorf("the password is in the output:\n%s\n%s", r.stdout, r.stderr)
	}
	filepath.WalkDir(statedir.State(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
				t.Errorf("the password is in %s", p)
			}
		}
		return nil
	})
}

// `miexit auth webdav URL` reads the user name and app password from
// stdin, tries them, stores them 0600, and the webdav: destination runs on
// them with no environment: a whole migrate, verified, logging at -v.
func TestAuthWebDAVStoresAndTheDestinationUsesIt(t *testing.T) {
	src, _ := setup(t)
	srv := davtest.Rclone(t)
	t.Setenv(dav.EnvUser, "")
	t.Setenv(dav.EnvPassword, "")

	stdin = strings.NewReader(davtest.User + "\n" + davtest.Password + "\n")
	t.Cleanup(func() { stdin = os.Stdin })
	r := miexit(t, "-v", "auth", "webdav", srv.URL)
	if r.code != 0 {
		t.Fatalf("auth: exit %d: %s", r.code, r.stderr)
	}
	noSecret(t, davtest.Password, r)
	st, err := os.Stat(filepath.Join(statedir.Config(), dav.CredFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials stored with mode %v, want 0600", st.Mode().Perm())
	}

	r = miexit(t, "-v", "migrate", "--from", "archive:"+src, "--to", "webdav:"+srv.URL+"phone/", "--json")
	if r.code != 0 {
		t.Fatalf("migrate on the stored credentials: exit %d: %s", r.code, r.stderr)
	}
	if sum := lastJSON(t, r.stdout); sum["verify"].(map[string]any)["ok"] != true {
		t.Errorf("migrate did not verify: %v", sum["verify"])
	}
	noSecret(t, davtest.Password, r)
}

// A wrong password is tried first and never stored; the error names the
// URL and the next step, never the password.
func TestAuthCardDAVRefusesWrongPassword(t *testing.T) {
	setup(t)
	srv := davtest.Radicale(t)
	t.Setenv(dav.EnvUser, davtest.User)
	t.Setenv(dav.EnvPassword, "wrong-secret-42")
	r := miexit(t, "auth", "carddav", srv.URL)
	if r.code == 0 {
		t.Fatal("auth with a wrong password succeeded")
	}
	if !strings.Contains(r.stderr, srv.URL) || !strings.Contains(r.stderr, "app password") {
		t.Errorf("error does not name the URL and the next step: %s", r.stderr)
	}
	noSecret(t, "wrong-secret-42", r)
	if _, err := os.Stat(filepath.Join(statedir.Config(), dav.CredFile)); !os.IsNotExist(err) {
		t.Errorf("credentials stored after a refusal: %v", err)
	}

	t.Setenv(dav.EnvPassword, davtest.Password)
	if r := miexit(t, "auth", "carddav", srv.URL); r.code != 0 {
		t.Fatalf("auth with the right password: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(statedir.Config(), dav.CredFile)); err != nil {
		t.Error(err)
	}
}
