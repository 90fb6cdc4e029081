package main

import (
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/graphtest"
	"github.com/miexit/miexit/internal/sample"
)

// The whole CLI against the fake Dropbox through the real SDK: migrate,
// migrate again (nothing written), then verify after a deletion at the
// destination exits 1 naming the file.
func TestMigrateToDropbox(t *testing.T) {
	src, _ := setup(t)
	srv := dropboxtest.New(t, "cli-test-token")
	t.Setenv("MIEXIT_DROPBOX_ENDPOINT", srv.URL)
	t.Setenv("MIEXIT_DROPBOX_TOKEN", "cli-test-token")

	r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "dropbox:/Backup", "--json")
	if r.code != 0 {
		t.Fatalf("migrate exit %d: %s", r.code, r.stderr)
	}
	if v := lastJSON(t, r.stdout)["verify"].(map[string]any); v["ok"] != true {
		t.Fatalf("verify: %v", v)
	}
	r = miexit(t, "migrate", "--from", "archive:"+src, "--to", "dropbox:/Backup", "--json")
	if r.code != 0 {
		t.Fatalf("second migrate exit %d: %s", r.code, r.stderr)
	}
	if n := lastJSON(t, r.stdout)["import_stats"].(map[string]any)["copied"].(float64); n != 0 {
		t.Errorf("second migrate uploaded %v files", n)
	}
	if !srv.Remove("/Backup/media/DCIM/Camera/IMG_20240501_101500.jpg") {
		t.Fatalf("no such file at the fake; it holds %v", srv.Files())
	}
	r = miexit(t, "verify", "--from", "archive:"+src, "--to", "dropbox:/Backup")
	if r.code != 1 || !strings.Contains(r.stdout, "IMG_20240501_101500.jpg") {
		t.Fatalf("verify after deletion: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestMigrateToOneDrive(t *testing.T) {
	src, _ := setup(t)
	fake := graphtest.NewServer(graphtest.Options{PageSize: 5})
	defer fake.Close()
	t.Setenv("MIEXIT_ONEDRIVE_ENDPOINT", fake.Endpoint())
	t.Setenv("MIEXIT_ONEDRIVE_TOKEN", fake.Token())

	r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "onedrive:/Backup", "--json")
	if r.code != 0 {
		t.Fatalf("migrate exit %d: %s", r.code, r.stderr)
	}
	if v := lastJSON(t, r.stdout)["verify"].(map[string]any); v["ok"] != true {
		t.Fatalf("verify: %v", v)
	}
	before := fake.Writes()
	if r = miexit(t, "migrate", "--from", "archive:"+src, "--to", "onedrive:/Backup", "-q"); r.code != 0 {
		t.Fatalf("second migrate exit %d: %s", r.code, r.stderr)
	}
	if n := fake.Writes() - before; n != 0 {
		t.Errorf("second migrate made %d writes", n)
	}
	if !fake.Corrupt("/Backup/media/DCIM/Camera/IMG_20240501_101500.jpg") {
		t.Fatalf("no such file at the fake: %v", fake.Files())
	}
	r = miexit(t, "verify", "--from", "archive:"+src, "--to", "onedrive:/Backup")
	if r.code != 1 || !strings.Contains(r.stdout, "different media: media/DCIM/Camera/IMG_20240501_101500.jpg") {
		t.Fatalf("verify after corruption: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The headline use, against the fake Google through the real clients:
// contacts go to People in batches, everything else to Drive.
func TestMigrateToGoogle(t *testing.T) {
	src, _ := setup(t)
	srv := googletest.New()
	defer srv.Close()
	t.Setenv("MIEXIT_GOOGLE_ENDPOINT", srv.URL)
	t.Setenv("MIEXIT_GOOGLE_TOKEN", srv.Token)

	r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "google", "--json")
	if r.code != 0 {
		t.Fatalf("migrate exit %d: %s", r.code, r.stderr)
	}
	if v := lastJSON(t, r.stdout)["verify"].(map[string]any); v["ok"] != true {
		t.Fatalf("verify: %v", v)
	}
	if n, want := srv.Count("people.batchCreateContacts"), (sample.Expected.Contacts+199)/200; n != want {
		t.Errorf("%d batchCreateContacts calls, want %d (counts %v)", n, want, srv.Counts())
	}
	if got := len(srv.Contacts()); got != sample.Expected.Contacts {
		t.Errorf("%d contacts at Google, want %d", got, sample.Expected.Contacts)
	}
	before := srv.Writes()
	if r = miexit(t, "migrate", "--from", "archive:"+src, "--to", "google", "-q"); r.code != 0 {
		t.Fatalf("second migrate exit %d: %s", r.code, r.stderr)
	}
	if n := srv.Writes() - before; n != 0 {
		t.Errorf("second migrate made %d writes", n)
	}
	fs := srv.FindFiles("miexit/sample/media/DCIM/Camera/IMG_20240501_101500.jpg")
	if len(fs) != 1 {
		t.Fatalf("photo on Drive %d times: %v", len(fs), srv.Files())
	}
	srv.DeleteFile(fs[0].ID)
	r = miexit(t, "verify", "--from", "archive:"+src, "--to", "google")
	if r.code != 1 || !strings.Contains(r.stdout, "missing media: media/DCIM/Camera/IMG_20240501_101500.jpg") {
		t.Fatalf("verify after deletion: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDevicesThroughFakeADBServer(t *testing.T) {
	d := adbtest.NewDevice("fake-phone-1")
	srv := adbtest.NewServer(t, d)
	t.Setenv("ADB_SERVER_SOCKET", "tcp:"+srv.Addr)
	r := miexit(t, "devices", "--json")
	if r.code != 0 {
		t.Fatalf("devices exit %d: %s", r.code, r.stderr)
	}
	devs, _ := lastJSON(t, r.stdout)["devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["serial"] != "fake-phone-1" {
		t.Fatalf("devices = %v", devs)
	}
}

// Inventory over ADB says what the phone hides from the shell user.
func TestInventoryOverADBSaysWhatIsHidden(t *testing.T) {
	setup(t)
	d := adbtest.NewDevice("fake-phone-2")
	d.Prov.SetEmpty()
	srv := adbtest.NewServer(t, d)
	t.Setenv("ADB_SERVER_SOCKET", "tcp:"+srv.Addr)
	r := miexit(t, "inventory", "--from", "adb:fake-phone-2", "--json")
	if r.code != 0 {
		t.Fatalf("inventory exit %d: %s", r.code, r.stderr)
	}
	m := lastJSON(t, r.stdout)
	notes, _ := m["notices"].([]any)
	if len(notes) == 0 || !strings.Contains(notes[0].(string), "drafts") {
		t.Fatalf("no notice about hidden SMS: %v", m)
	}
	if _, ok := m["contact_photos_not_copied"]; !ok {
		t.Errorf("no contact photo count: %v", m)
	}
}
