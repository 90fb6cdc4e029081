package crashtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/googletest"
)

// Distinctive values, so a grep of the output cannot match by accident.
const (
	goodToken = "sekrit-GOOD-7f3a9c1e-token"
	badToken  = "sekrit-BAD-d41d8cd9-token"
)

// noSecret fails when any secret appears in a run's output.
func noSecret(t *testing.T, what string, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
			t.Errorf("%s printed the secret %q:\nstdout:\n%s\nstderr:\n%s", what, s, r.stdout, r.stderr)
		}
	}
}

// A working and a refused token, with -v and --json, each against the
// Google and the Dropbox fake: the token never reaches stdout or stderr,
// and a refused one ends in a clean failure saying to sign in again.
func TestTokensNeverPrinted(t *testing.T) {
	t.Parallel()
	type dest struct {
		name, to, authCmd string
		// knownNoAuthHint tolerates a fault found here and not yet fixed:
		// importers/google (classify in calls.go) turns a 401 into a bare
		// "HTTP 401: Request had invalid authentication credentials"
		// with no hint to run `miexit auth google` again, where
		// importers/dropbox has ErrAuth. Set it to false once fixed.
		knownNoAuthHint bool
		// start returns the MIEXIT_* variables for a fake accepting
		// goodToken, with the client given token, and how many items the
		// fake holds.
		start func(t *testing.T, token string) ([]string, func() int)
	}
	dests := []dest{
		{"google", "google", "miexit auth google", false, func(t *testing.T, token string) ([]string, func() int) {
			srv := googletest.New()
			t.Cleanup(srv.Close)
			syncWithFake(t, srv.URL)
			srv.Token = goodToken
			syncWithFake(t, srv.URL)
			held := func() int { return len(srv.Files()) + len(srv.Contacts()) }
			return []string{"MIEXIT_GOOGLE_ENDPOINT=" + srv.URL, "MIEXIT_GOOGLE_TOKEN=" + token}, held
		}},
		{"dropbox", "dropbox:/Backup", "miexit auth dropbox", false, func(t *testing.T, token string) ([]string, func() int) {
			srv := dropboxtest.New(t, goodToken)
			held := func() int { return len(srv.Files()) }
			return []string{"MIEXIT_DROPBOX_ENDPOINT=" + srv.URL, "MIEXIT_DROPBOX_TOKEN=" + token}, held
		}},
	}
	for _, d := range dests {
		for _, mode := range [][]string{{"-v"}, {"--json"}, {"-v", "--json"}} {
			name := d.name + "/" + strings.Join(mode, "")
			t.Run(name+"/good", func(t *testing.T) {
				vars, _ := d.start(t, goodToken)
				e := newEnv(t, vars...)
				args := append([]string{"migrate", "--from", "archive:" + src, "--to", d.to}, mode...)
				r := e.run(t, "", args...)
				if r.code != 0 {
					t.Fatalf("migrate exit %d:\n%s", r.code, r.stderr)
				}
				noSecret(t, "migrate", r, goodToken)
				r = e.run(t, "", append([]string{"verify", "--from", "archive:" + src, "--to", d.to}, mode...)...)
				if r.code != 0 {
					t.Fatalf("verify exit %d:\n%s", r.code, r.stderr)
				}
				noSecret(t, "verify", r, goodToken)
			})
			t.Run(name+"/wrong", func(t *testing.T) {
				vars, held := d.start(t, badToken)
				e := newEnv(t, vars...)
				args := append([]string{"migrate", "--from", "archive:" + src, "--to", d.to}, mode...)
				r := e.run(t, "", args...)
				if r.code != 1 {
					t.Errorf("migrate with a refused token: exit %d, want 1\n%s", r.code, r.stderr)
				}
				noSecret(t, "migrate with a refused token", r, badToken, goodToken)
				if n := held(); n != 0 {
					t.Errorf("migrate with a refused token left %d items at the destination", n)
				}
				switch {
				case strings.Contains(r.stderr, d.authCmd) && strings.Contains(r.stderr, "again"):
				case d.knownNoAuthHint:
					t.Logf("KNOWN FAULT: a refused token does not say to run `%s` again:\n%s", d.authCmd, r.stderr)
				default:
					t.Errorf("migrate with a refused token does not say to run `%s` again:\n%s", d.authCmd, r.stderr)
				}
			})
		}
	}
}

// `miexit auth micloud` keeps the cookies it reads from stdin in files
// only the user can read, and never echoes them.
func TestMiCloudAuthFileIsPrivate(t *testing.T) {
	const user, pass = "1234567890", "V1:sekrit-PASS-0c4f2e77/passtoken=="
	e := newEnv(t)
	r := e.run(t, user+"\n"+pass+"\n", "auth", "micloud", "--region", "eu")
	if r.code != 0 {
		t.Fatalf("auth micloud exit %d:\n%s", r.code, r.stderr)
	}
	noSecret(t, "auth micloud", r, pass)
	found := 0
	err := filepath.WalkDir(e.config, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), pass) {
			return nil
		}
		found++
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s holds the passToken with mode %v, want 0600", p, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatalf("no file under the config dir %s holds the passToken", e.config)
	}
}
