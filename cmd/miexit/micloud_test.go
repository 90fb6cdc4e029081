package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/micloudtest"
)

func micloudFake(t *testing.T, d micloudtest.Data, opt micloudtest.Options) *micloudtest.Server {
	t.Helper()
	srv := micloudtest.New(d, opt)
	t.Cleanup(srv.Close)
	t.Setenv("MIEXIT_STATE_DIR", filepath.Join(t.TempDir(), "state"))
	t.Setenv("MIEXIT_CONFIG_DIR", filepath.Join(t.TempDir(), "config"))
	t.Setenv("MIEXIT_MICLOUD_ENDPOINT", srv.API.URL)
	t.Setenv("MIEXIT_MICLOUD_USERID", srv.UserID())
	t.Setenv("MIEXIT_MICLOUD_PASSTOKEN", srv.PassToken())
	return srv
}

// `export --jobs N` sets how many Mi Cloud downloads run at once (each
// holds the fake's file host for 800 ms, so those at once overlap even
// with the exporter's pacing of 10 requests a second), and more than 8
// is cut to 8, saying so.
func TestExportJobsSetsMiCloudDownloadsAtOnce(t *testing.T) {
	d := micloudtest.Data{Albums: []micloudtest.Album{{ID: 1}}}
	for i := range 5 {
		d.Photos = append(d.Photos, micloudtest.Photo{ID: int64(i + 1), AlbumID: 1, FileName: fmt.Sprintf("IMG_%d.jpg", i),
			Type: "image", MIME: "image/jpeg", Data: micloudtest.Bytes("jpg", uint64(i), 1000), DateTaken: micloudtest.Base})
	}
	srv := micloudFake(t, d, micloudtest.Options{DownloadTime: 800 * time.Millisecond})
	if r := miexit(t, "export", "--from", "micloud:", "--to", filepath.Join(t.TempDir(), "snap"), "--jobs", "2", "-q"); r.code != 0 {
		t.Fatalf("export exit %d: %s", r.code, r.stderr)
	}
	if n := srv.MaxConcurrentDownloads(); n != 2 {
		t.Errorf("--jobs 2: the fake saw %d downloads at once", n)
	}

	micloudFake(t, micloudtest.Data{}, micloudtest.Options{})
	r := miexit(t, "export", "--from", "micloud:", "--to", filepath.Join(t.TempDir(), "snap"), "--jobs", "12", "-v")
	if r.code != 0 {
		t.Fatalf("export exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "at most 8 downloads at once") {
		t.Errorf("--jobs 12 did not say it uses 8: %s", r.stderr)
	}
}
