package micloud

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/micloudtest"
	"github.com/miexit/miexit/internal/snapshot"
)

// A server that caps its pages below the asked limit hands back short
// pages mid-list; the lists without a last-page flag (recordings, SMS
// threads) must go on past them, and the flagged ones keep trusting the
// flag.
func TestShortPagesMidListLoseNothing(t *testing.T) {
	d := micloudtest.Sample(false)
	srv := startFake(t, d, micloudtest.Options{PageCap: 2}) // testConfig asks for 3
	e := newExporter(t, testConfig(srv))
	got, err := e.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, wantCloud := wantCounts(d)
	if got != want {
		t.Errorf("inventory %+v, want %+v", got, want)
	}
	cc, _ := e.CloudCounts(context.Background())
	if cc != wantCloud {
		t.Errorf("cloud counts %+v, want %+v", cc, wantCloud)
	}
	// 6 recordings in pages of 2, then the empty page that ends the list.
	if n := srv.Count("recordings"); n != 4 {
		t.Errorf("%d recordings list requests, want 4 (3 short pages and an empty one)", n)
	}
	// 3 threads: pages of 2 and 1, then the empty page.
	if n := srv.Count("sms"); n != 3 {
		t.Errorf("%d SMS thread list requests, want 3", n)
	}
	t.Logf("requests: %s", srv.SortedCounts())

	dir := t.TempDir() + "/snap"
	runExport(t, newExporter(t, testConfig(srv)), dir)
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Counts(); c.Media != want.Media || c.Notes != want.Notes || c.Contacts != want.Contacts {
		t.Errorf("snapshot counts %+v, want %+v", c, want)
	}
	recs := 0
	for _, e := range entries(t, dir) {
		if strings.HasPrefix(e.Path, snapshot.MediaDir+"/Recordings/") {
			recs++
		}
	}
	if recs != len(d.Recordings) {
		t.Errorf("%d recordings in the snapshot, want %d", recs, len(d.Recordings))
	}
}

// A list whose offset or cursor is ignored serves the same rows forever:
// the export stops with an error naming the list instead of looping.
func TestPagesThatOnlyRepeatFail(t *testing.T) {
	d := micloudtest.Sample(false)
	for _, tc := range []struct {
		name, says string
		edit       func(*micloudtest.Data)
	}{
		{"recordings", "recordings list: the page at offset 3 holds only recordings already listed", func(*micloudtest.Data) {}},
		{"sms threads", "SMS thread list: the page after syncThreadTag 3 holds only threads already listed", func(d *micloudtest.Data) {
			for i := 4; i <= 6; i++ {
				d.Threads = append(d.Threads, micloudtest.Thread{ID: int64(i), Total: 1})
			}
			d.Recordings = nil // so the recordings list ends at once
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := d
			d.Threads = append([]micloudtest.Thread(nil), d.Threads...)
			tc.edit(&d)
			srv := startFake(t, d, micloudtest.Options{RepeatPages: true})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := newExporter(t, testConfig(srv)).Inventory(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("inventory: %v, want an error saying %q", err, tc.says)
			}
		})
	}
}
