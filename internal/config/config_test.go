package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/mapping"
)

func TestForTakesMostSpecificTableFirst(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(p, []byte(`to = "top"
jobs = 2
[auth]
no-browser = true
to = "auth"
[auth.google]
to = "google"
[migrate]
include = ["contacts", "media"]
`), 0o600)
	f, err := Load(p, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Value{}
	for _, v := range f.For("auth google") {
		got[v.Key] = v
	}
	if got["to"].Raw != "google" || got["to"].Where() != "in [auth.google]" || got["no-browser"].Raw != true || got["jobs"].Raw != int64(2) {
		t.Errorf("For(auth google) = %v", got)
	}
	var inc []string
	for _, v := range f.For("migrate") {
		if v.Key == "include" {
			inc, _ = v.Strings()
		}
	}
	if strings.Join(inc, ",") != "contacts,media" {
		t.Errorf("array value = %v", inc)
	}
}

func TestMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none.toml")
	if f, err := Load(p, true); err != nil || len(f.Top)+len(f.Sections) != 0 {
		t.Errorf("optional missing file: %v, %v", f, err)
	}
	if _, err := Load(p, false); !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "none.toml") {
		t.Errorf("named missing file: %v", err)
	}
}
