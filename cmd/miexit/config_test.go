package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/sample"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("MIEXIT_CONFIG_DIR", dir)
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flagsAfterConfig parses args as run would, applies the config, and
// returns the command's effective flag values.
func flagsAfterConfig(t *testing.T, args ...string) (map[string]string, error) {
	t.Helper()
	root := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
	c, rest, err := root.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	if err := root.PersistentPreRunE(c, nil); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, k := range []string{"from", "to", "jobs", "snapshot", "state-dir", "quiet", "verbose"} {
		if fl := c.Flag(k); fl != nil {
			out[k] = fl.Value.String()
		}
	}
	return out, nil
}

func TestConfigPrecedence(t *testing.T) {
	t.Setenv("MIEXIT_STATE_DIR", "")
	writeConfig(t, `# defaults for every command
jobs = 2
to = "dir:/top"
snapshot = "/top-snap"
state-dir = "/top-state"
quiet = true

[migrate]
to = "dir:/section"
`)
	cases := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"flag beats the command's table", []string{"migrate", "--to", "dir:/flag", "-j", "8"},
			map[string]string{"to": "dir:/flag", "jobs": "8", "snapshot": "/top-snap", "state-dir": "/top-state"}},
		{"command's table beats the top level", []string{"migrate"},
			map[string]string{"to": "dir:/section", "jobs": "2"}},
		{"top level applies where no table says otherwise", []string{"import"},
			map[string]string{"to": "dir:/top", "jobs": "2", "from": ""}},
		{"top-level to is no snapshot folder for export", []string{"export"},
			map[string]string{"to": ""}},
		{"a global flag on the command line beats the config's", []string{"verify", "--state-dir", "/flag-state"},
			map[string]string{"state-dir": "/flag-state", "to": "dir:/top"}},
		{"-v on the command line keeps the config's quiet away", []string{"inventory", "-v"},
			map[string]string{"quiet": "false", "verbose": "true"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := flagsAfterConfig(t, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestNoConfigKeepsBuiltInDefaults(t *testing.T) {
	t.Setenv("MIEXIT_CONFIG_DIR", t.TempDir())
	got, err := flagsAfterConfig(t, "migrate")
	if err != nil || got["jobs"] != "4" || got["to"] != "" {
		t.Fatalf("%v, %v", got, err)
	}
}

func TestEnvironmentStateDirBeatsConfig(t *testing.T) {
	writeConfig(t, `state-dir = "/from-config"`)
	t.Setenv("MIEXIT_STATE_DIR", "/from-env")
	got, err := flagsAfterConfig(t, "migrate")
	if err != nil || got["state-dir"] != "" {
		t.Fatalf("state-dir %q (%v): the flag must stay unset so MIEXIT_STATE_DIR applies", got["state-dir"], err)
	}
}

func TestConfigMistakesNameFileAndKey(t *testing.T) {
	src, _ := setup(t)
	cases := []struct {
		name, text string
		want       []string
	}{
		{"unknown top-level key", "jobz = 3\n", []string{"config.toml", `unknown key "jobz" at the top level`}},
		{"unknown key in a table", "[migrate]\nfrm = \"adb\"\n", []string{"config.toml", `unknown key "frm" in [migrate]`, "from"}},
		{"table that is no command", "[migrat]\nto = \"google\"\n", []string{"config.toml", "[migrat] is no miexit command", "migrate"}},
		{"malformed line", "jobs = 2\n\nto = \n", []string{"config.toml line 3"}},
		{"value the flag refuses", "[migrate]\njobs = \"four\"\n", []string{"config.toml", `jobs = four in [migrate]`}},
		{"key of another command in a table", "[inventory]\njobs = 2\n", []string{`unknown key "jobs" in [inventory]`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeConfig(t, c.text)
			// migrate, so the refused value is one that applies; the
			// config is read before anything runs.
			r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+filepath.Join(t.TempDir(), "x"), "-q")
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not say %q", r.stderr, w)
				}
			}
		})
	}
	// help and version still work with a broken config.
	writeConfig(t, "jobz = 3\n")
	if r := miexit(t, "version"); r.code != 0 {
		t.Errorf("version with a broken config: exit %d", r.code)
	}
}

func TestConfigFlagAndDefaultsReachTheCommand(t *testing.T) {
	setup(t)
	src := filepath.Join(t.TempDir(), "sample")
	if err := sample.Generate(src); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "elsewhere.toml")
	os.WriteFile(p, []byte("[inventory]\nfrom = \"archive:"+src+"\"\njson = true\n"), 0o600)
	r := miexit(t, "inventory", "--config", p)
	if r.code != 0 {
		t.Fatalf("inventory with --from from the config: exit %d: %s", r.code, r.stderr)
	}
	if m := lastJSON(t, r.stdout); int(m["contacts"].(float64)) != sample.Expected.Contacts {
		t.Errorf("summary = %v", m)
	}
	if r := miexit(t, "inventory", "--config", filepath.Join(t.TempDir(), "nope.toml")); r.code != 2 || !strings.Contains(r.stderr, "nope.toml does not exist") {
		t.Errorf("--config of a missing file: exit %d, %q", r.code, r.stderr)
	}
}

// The sample in the README is a config this miexit accepts.
func TestREADMESampleConfigIsValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```toml\n")
	sample, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no toml sample in README.md")
	}
	t.Setenv("MIEXIT_STATE_DIR", "")
	writeConfig(t, sample)
	got, err := flagsAfterConfig(t, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	if got["from"] != "adb" || got["jobs"] != "8" || !strings.HasPrefix(got["to"], "dir:") {
		t.Errorf("migrate after the README's config: %v", got)
	}
}
