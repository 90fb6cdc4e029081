package main

import (
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/dav"
	"github.com/miexit/miexit/internal/davtest"
)

// A migrate to carddav: against Radicale copies the contacts (discovery
// makes the address book), and exits 1 saying the rest needs another
// destination, not that anything is missing; a second run writes nothing.
func TestMigrateToCardDAV(t *testing.T) {
	src, _ := setup(t)
	srv := davtest.Radicale(t)
	t.Setenv(dav.EnvUser, davtest.User)
	t.Setenv(dav.EnvPassword, davtest.Password)
	r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "carddav:"+srv.URL, "--json")
	if r.code != 1 {
		t.Fatalf("migrate exit %d, want 1 (only contacts taken): %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "does not take") || strings.Contains(r.stderr, "run `miexit import`") {
		t.Errorf("stderr does not say the rest needs another destination:\n%s", r.stderr)
	}
	v := lastJSON(t, r.stdout)["verify"].(map[string]any)
	rows := v["rows"].([]any)
	contacts := rows[0].(map[string]any)
	if contacts["kind"] != "contact" || contacts["source"].(float64) == 0 || contacts["destination"] != contacts["source"] || contacts["missing"].(float64) != 0 {
		t.Fatalf("verify contacts row: %v", contacts)
	}
	before := srv.Writes()
	if before == 0 {
		t.Fatal("nothing written to Radicale")
	}
	if r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "carddav:"+srv.URL, "-q"); r.code != 1 {
		t.Fatalf("second migrate exit %d: %s", r.code, r.stderr)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("second migrate made %d writes", n)
	}
}
