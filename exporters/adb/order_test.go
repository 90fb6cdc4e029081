package adb_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
	"testing"
	"time"

	adbexp "github.com/miexit/miexit/exporters/adb"
	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// Parallel pulls finish in any order; the manifest must list the media as
// a one-session export does, so two runs of the same phone write the same
// manifest whatever the number of sessions.
func TestParallelPullsKeepTheSequentialManifestOrder(t *testing.T) {
	d := samplePhone("order")
	root := "/storage/emulated/0/DCIM/Many"
	for i := range 40 {
		d.Files.AddGenerated(fmt.Sprintf("%s/IMG_%03d.jpg", root, i), int64(1000+i*37), uint64(i), mediaMod)
	}
	d.Files.AddRaw(root, "IMG_020b.jpg", &adbtest.Node{Data: []byte("locked"), ModTime: mediaMod, Unreadable: true})
	// Pseudo-random waits of 0-4 ms per file, the same in every run.
	d.RecvDelay = func(p string) time.Duration {
		h := fnv.New32a()
		h.Write([]byte(p))
		return time.Duration(h.Sum32()%5) * time.Millisecond
	}
	srv := adbtest.NewServer(t, d)
	manifest := func(par int) ([]string, mapping.Counts) {
		ex, err := adbexp.Open(context.Background(), &adb.Client{Addr: srv.Addr}, "", adbexp.Options{Parallel: par, MediaDirs: []string{"DCIM"}})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "snap")
		counts := export(t, ex, dir)
		r, err := snapshot.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for e, err := range r.Files() {
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind == mapping.KindMedia {
				order = append(order, e.Path+" "+e.SHA256)
			}
		}
		return order, counts
	}
	seq, seqCounts := manifest(1)
	if len(seq) < 40 {
		t.Fatalf("sequential export lists %d media, want at least 40", len(seq))
	}
	for _, par := range []int{4, 8} {
		got, counts := manifest(par)
		if !slices.Equal(got, seq) {
			t.Errorf("with %d sessions the manifest lists the media in another order (or with other bytes):\n got %v\nwant %v", par, got, seq)
		}
		if counts != seqCounts {
			t.Errorf("with %d sessions counts %+v, sequential %+v", par, counts, seqCounts)
		}
	}
}
