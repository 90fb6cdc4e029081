package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/graphtest"
)

// migrateOK runs a migrate that must end with everything at the
// destination, and returns its verify summary.
func migrateOK(t *testing.T, from, to string) map[string]any {
	t.Helper()
	v, _ := migrateStats(t, from, to)
	return v
}

// migrateStats is migrateOK that also returns the import's stats.
func migrateStats(t *testing.T, from, to string) (check, stats map[string]any) {
	t.Helper()
	r := miexit(t, "migrate", "--from", from, "--to", to, "--json")
	if r.code != 0 {
		t.Fatalf("migrate to %s: exit %d\n%s%s", to, r.code, r.stdout, r.stderr)
	}
	if strings.Contains(strings.ToLower(r.stdout+r.stderr), "import again") {
		t.Errorf("migrate to %s asks to run the import again:\n%s%s", to, r.stdout, r.stderr)
	}
	sum := lastJSON(t, r.stdout)
	v := sum["verify"].(map[string]any)
	if v["ok"] != true {
		t.Fatalf("migrate to %s: verify %v", to, v)
	}
	return v, sum["import_stats"].(map[string]any)
}

func repaired(v map[string]any) float64 {
	n, _ := v["repaired"].(float64)
	return n
}

// The user empties the backup folder; the next migrate puts everything
// back, exit 0, and says nothing about running the import again.
func TestMigrateAfterTheDirDestinationWasEmptiedRestoresIt(t *testing.T) {
	src, dest := setup(t)
	migrateOK(t, "archive:"+src, "dir:"+dest)
	if err := os.RemoveAll(dest); err != nil {
		t.Fatal(err)
	}
	migrateOK(t, "archive:"+src, "dir:"+dest)
	if _, err := os.Stat(filepath.Join(dest, "media", "DCIM", "Camera", "IMG_20240501_101500.jpg")); err != nil {
		t.Errorf("a photo was not restored: %v", err)
	}
	if r := miexit(t, "verify", "--from", "archive:"+src, "--to", "dir:"+dest); r.code != 0 {
		t.Fatalf("verify after the restoring migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The user deletes everything in OneDrive: the ledger still claims it all,
// so the migrate's import sends nothing, and its final check finds it
// missing and imports it again in the same run.
func TestMigrateAfterTheOneDriveWasEmptiedRestoresIt(t *testing.T) {
	src, _ := setup(t)
	fake := graphtest.NewServer(graphtest.Options{PageSize: 5})
	defer fake.Close()
	t.Setenv("MIEXIT_ONEDRIVE_ENDPOINT", fake.Endpoint())
	t.Setenv("MIEXIT_ONEDRIVE_TOKEN", fake.Token())
	_, first := migrateStats(t, "archive:"+src, "onedrive:/Backup")
	files := len(fake.Files())
	fake.Empty()
	before := fake.Counts()
	v, stats := migrateStats(t, "archive:"+src, "onedrive:/Backup")
	if repaired(v) == 0 {
		t.Errorf("the final check repaired nothing after the drive was emptied: %v", v)
	}
	// The repair's events are its own phase: each item counts once.
	if n, want := stats["copied"].(float64)+stats["unchanged"].(float64), first["copied"].(float64); n != want {
		t.Errorf("the import counted %v items (%v); the snapshot has %v", n, stats, want)
	}
	if got := len(fake.Files()); got != files {
		t.Errorf("the drive holds %d files after the repair, %d before it was emptied", got, files)
	}
	t.Logf("migrate into the emptied drive: %s", countsSince(before, fake.Counts()))
	if r := miexit(t, "verify", "--from", "archive:"+src, "--to", "onedrive:/Backup"); r.code != 0 {
		t.Fatalf("verify after the restoring migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// After `miexit auth onedrive` with another account, the old account's
// ledger records say nothing about the new drive: the import itself
// uploads everything (nothing is left for the final check to repair), and
// switching back finds the first account's records intact.
func TestSwitchingTheOneDriveAccountUploadsIntoTheNewOne(t *testing.T) {
	src, _ := setup(t)
	fake := graphtest.NewServer(graphtest.Options{PageSize: 5})
	defer fake.Close()
	t.Setenv("MIEXIT_ONEDRIVE_ENDPOINT", fake.Endpoint())
	t.Setenv("MIEXIT_ONEDRIVE_TOKEN", fake.Token())
	migrateOK(t, "archive:"+src, "onedrive:/Backup")
	files := len(fake.Files())

	fake.SwitchAccount("b0b0b0b0b0b0b0b0")
	before := fake.Counts()
	v := migrateOK(t, "archive:"+src, "onedrive:/Backup")
	if n := repaired(v); n != 0 {
		t.Errorf("the final check had to repair %v items: the import trusted the other account's ledger", n)
	}
	if got := len(fake.Files()); got != files {
		t.Errorf("the new account holds %d files, want %d", got, files)
	}
	after := fake.Counts()
	t.Logf("migrate into the new account: %s", countsSince(before, after))
	if d := after["drive"] - before["drive"]; d < 1 || d > 2 {
		// One lookup for the import, one for the final check's importer.
		t.Errorf("GET /me/drive sent %d times in one migrate; want once per importer", d)
	}

	// A re-run in the new account writes nothing.
	w, before := fake.Writes(), fake.Counts()
	migrateOK(t, "archive:"+src, "onedrive:/Backup")
	if d := fake.Writes() - w; d != 0 {
		t.Errorf("a second migrate into the new account made %d writes", d)
	}
	t.Logf("an unchanged migrate: %s", countsSince(before, fake.Counts()))
}

func countsSince(before, after map[string]int) string {
	var b strings.Builder
	total := 0
	for _, k := range sortedKeys(after) {
		if d := after[k] - before[k]; d != 0 {
			b.WriteString(" " + k + "=" + strconv.Itoa(d))
			total += d
		}
	}
	return strconv.Itoa(total) + " requests:" + b.String()
}
