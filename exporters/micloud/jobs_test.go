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

// Notes are fetched (text and images) up to Concurrency at once too, and
// written in listing order: the snapshot is the same at 1 and 6 jobs.
func TestNotesAreFetchedJobsAtOnce(t *testing.T) {
	var d micloudtest.Data
	shared := micloudtest.NoteImage{FileID: "1.shared", MIME: "image/png", Data: micloudtest.Bytes("png", 1, 700)}
	for i := range 30 {
		img := micloudtest.NoteImage{FileID: fmt.Sprintf("1.img%02d", i), MIME: "image/jpeg", Data: micloudtest.Bytes("jpg", uint64(i), 500)}
		n := micloudtest.Note{ID: int64(100 + i), Title: fmt.Sprintf("Note %d", i), Created: micloudtest.Base, Modified: micloudtest.Base + int64(i),
			Content: "text ☺ " + img.FileID + "<0/></>", Images: []micloudtest.NoteImage{img}}
		if i%10 == 0 {
			// One file in several notes is stored once.
			n.Content += "\n☺ " + shared.FileID + "<0/></>"
			n.Images = append(n.Images, shared)
		}
		d.Notes = append(d.Notes, n)
	}
	d.Notes[7].Images[0].Data = nil // lost on the server: reported, not fatal
	var first []string
	for _, jobs := range []int{1, 6} {
		srv := startFake(t, d, micloudtest.Options{Latency: 30 * time.Millisecond})
		cfg := testConfig(srv)
		cfg.Concurrency = jobs
		e := newExporter(t, cfg)
		dir := filepath.Join(t.TempDir(), "snap")
		start := time.Now()
		runExport(t, e, dir)
		got := srv.MaxConcurrentRequests()
		t.Logf("jobs %d: %d requests at most at once, %s; %s", jobs, got, time.Since(start).Round(time.Millisecond), srv.SortedCounts())
		if got > jobs || (jobs > 1 && got < jobs/2) {
			t.Errorf("jobs %d: the fake saw %d requests at once", jobs, got)
		}
		if r := e.LastReport(); len(r.MissingNoteFiles) != 1 {
			t.Errorf("jobs %d: missing note files %v, want the one lost", jobs, r.MissingNoteFiles)
		}
		var got2 []string
		for _, en := range entries(t, dir) {
			got2 = append(got2, string(en.Kind)+" "+en.Path+" "+en.Key+" "+en.SHA256)
		}
		if first == nil {
			first = got2
		} else if fmt.Sprint(got2) != fmt.Sprint(first) {
			t.Errorf("jobs %d: the manifest differs from the one-at-a-time export:\n%v\n%v", jobs, got2, first)
		}
	}
}
