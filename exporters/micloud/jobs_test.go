package micloud

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/micloudtest"
)

func photos(n, size int) micloudtest.Data {
	d := micloudtest.Data{Albums: []micloudtest.Album{{ID: 1}}}
	for i := range n {
		d.Photos = append(d.Photos, micloudtest.Photo{ID: int64(i + 1), AlbumID: 1, FileName: fmt.Sprintf("IMG_%04d.jpg", i),
			Type: "image", MIME: "image/jpeg", Data: micloudtest.Bytes("jpg", uint64(i), size), DateTaken: micloudtest.Base + int64(i)*1000})
	}
	return d
}

// --jobs reaches the exporter through the registered scheme (what the CLI
// and the pipeline open), capped at the 8 downloads Mi Cloud tolerates.
func TestRegisteredSchemeTakesJobs(t *testing.T) {
	srv := startFake(t, micloudtest.Data{}, micloudtest.Options{})
	t.Setenv(EnvEndpoint, srv.API.URL)
	t.Setenv(EnvUserID, srv.UserID())
	t.Setenv(EnvPassToken, srv.PassToken())
	for _, tc := range []struct{ jobs, want int }{{0, 4}, {1, 1}, {6, 6}, {8, 8}, {32, 8}} {
		ex, err := exporters.Open(context.Background(), "micloud:", exporters.Params{ConfigDir: t.TempDir(), Concurrency: tc.jobs})
		if err != nil {
			t.Fatal(err)
		}
		if got := ex.(*Exporter).cfg.Concurrency; got != tc.want {
			t.Errorf("--jobs %d: %d downloads at once, want %d", tc.jobs, got, tc.want)
		}
	}
}

// Each download holds the file host for 60 ms: the fake sees as many
// downloads at once as the exporter was given, never more, and the
// snapshot is the same whatever the number.
func TestDownloadsRunJobsAtOnceInListingOrder(t *testing.T) {
	d := photos(32, 2000)
	var first []string
	for _, jobs := range []int{1, 4, 8} {
		srv := startFake(t, d, micloudtest.Options{DownloadTime: 60 * time.Millisecond})
		cfg := testConfig(srv)
		cfg.Concurrency = jobs
		dir := filepath.Join(t.TempDir(), "snap")
		start := time.Now()
		runExport(t, newExporter(t, cfg), dir)
		took := time.Since(start)
		got := srv.MaxConcurrentDownloads()
		t.Logf("jobs %d: %d downloads at most at once, %s, %d requests", jobs, got, took.Round(time.Millisecond), srv.Requests())
		if got > jobs || (jobs > 1 && got < jobs*3/4) || (jobs == 1 && got != 1) {
			t.Errorf("jobs %d: the fake saw %d downloads at once", jobs, got)
		}
		var paths []string
		for _, e := range entries(t, dir) {
			paths = append(paths, e.Path+" "+e.SHA256)
		}
		if first == nil {
			first = paths
		} else if fmt.Sprint(paths) != fmt.Sprint(first) {
			t.Errorf("jobs %d: the manifest differs from the one-at-a-time export:\n%v\n%v", jobs, paths, first)
		}
	}
}
