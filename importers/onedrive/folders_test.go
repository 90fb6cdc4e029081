package onedrive

import (
	"context"
	"fmt"
	"testing"

	"github.com/miexit/miexit/importers"

	"github.com/miexit/miexit/internal/graph"
	"github.com/miexit/miexit/internal/snapshot"
)

// moviesOnly is a snapshot whose media/Movies/Trip folder holds large
// files alone: nothing there goes by simple PUT, so nothing else makes
// the folders.
func moviesOnly(t *testing.T, n, size int) *snapshot.Reader {
	t.Helper()
	var files []string
	for i := range n {
		files = append(files, fmt.Sprintf("Movies/Trip/VID_%d.mp4", i), string(bytesOf(size+i, uint64(100+i))))
	}
	return mediaSnapshot(t, files...)
}

func TestSessionFoldersAreCreatedOnceBeforeTheSession(t *testing.T) {
	for _, tc := range []struct {
		arg, prefix string
		folders     int // folders the first run creates
	}{
		// sample, media, Movies, Trip under the app folder.
		{"", "/Apps/miexit/sample", 4},
		// Backups, Phone, media, Movies, Trip under the drive root.
		{"/Backups/Phone", "/Backups/Phone", 5},
	} {
		t.Run("onedrive:"+tc.arg, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			snap := moviesOnly(t, 6, 600<<10)
			im := e.importer(t, tc.arg) // 4 uploads at once
			im.smallMax, im.fragSize = 256<<10, graph.FragmentUnit
			if err := im.Import(ctx, snap, openLedger(t), nil); err != nil {
				t.Fatal(err)
			}
			t.Logf("requests: %v", e.fake.Counts())
			for i := range 6 {
				p := fmt.Sprintf("%s/media/Movies/Trip/VID_%d.mp4", tc.prefix, i)
				if _, ok := e.fake.File(p); !ok {
					t.Errorf("%s not stored", p)
				}
			}
			if n := e.fake.Count("create-session"); n != 6 {
				t.Errorf("%d sessions, want 6", n)
			}
			// Four workers want the same folders at once: each is
			// asked for once.
			if n := e.fake.Count("create-folder"); n != tc.folders {
				t.Errorf("%d folder creations, want %d (once each)", n, tc.folders)
			}
			checkVerify(t, im, snap)

			// A run that lost its ledger lists the folder and re-uploads
			// a changed file: the listing shows the folders exist.
			e.fake.Corrupt(tc.prefix + "/media/Movies/Trip/VID_3.mp4")
			before := e.fake.Count("create-folder")
			im = e.importer(t, tc.arg)
			im.smallMax, im.fragSize = 256<<10, graph.FragmentUnit
			if err := im.Import(ctx, snap, openLedger(t), nil); err != nil {
				t.Fatal(err)
			}
			if n := e.fake.Count("create-folder") - before; n != 0 {
				t.Errorf("the re-run asked for %d folders that its listing showed", n)
			}
			checkVerify(t, im, snap)
		})
	}
}

// A folder removed behind miexit's back between runs is made again.
func TestSessionFolderRemovedBetweenRunsIsMadeAgain(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	snap := moviesOnly(t, 2, 600<<10)
	led := openLedger(t)
	im := e.importer(t, "")
	im.smallMax, im.fragSize = 256<<10, graph.FragmentUnit
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	e.fake.Remove("/Apps/miexit/sample/media/Movies")
	dest, err := importers.LedgerKey(ctx, im)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		led.Delete(dest, fmt.Sprintf("media/Movies/Trip/VID_%d.mp4", i))
	}
	im = e.importer(t, "")
	im.smallMax, im.fragSize = 256<<10, graph.FragmentUnit
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	checkVerify(t, im, snap)
}
