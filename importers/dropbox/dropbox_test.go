package dropbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/dropboxhash"
	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func localContentHash(t *testing.T, snap *snapshot.Reader, rel string) string {
	t.Helper()
	f, err := snap.Open(rel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := dropboxhash.Hex(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestImportStoresEveryFileWithHashAndDate(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	rep := &tally{}
	if err := f.importer().Import(context.Background(), snap, openLedger(t), rep); err != nil {
		t.Fatal(err)
	}
	n := 0
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		got, ok := f.srv.Stat(f.folder + "/" + e.Path)
		if !ok {
			t.Errorf("%s: not in Dropbox", e.Path)
			continue
		}
		if want := localContentHash(t, snap, e.Path); got.ContentHash != want {
			t.Errorf("%s: content_hash %s, want %s", e.Path, got.ContentHash, want)
		}
		want := e.Taken
		if want.IsZero() {
			want = e.Modified
		}
		if !want.IsZero() && !got.ClientModified.Equal(want.UTC().Truncate(time.Second)) {
			t.Errorf("%s: client_modified %v, want %v", e.Path, got.ClientModified, want)
		}
	}
	if got := len(f.srv.Files()); got != n {
		t.Errorf("Dropbox holds %d files, the snapshot %d", got, n)
	}
	if c := rep.Count("import", "", progress.Copied); c != n {
		t.Errorf("reported %d copied, want %d", c, n)
	}
	// The photo with a known date carries it, not the file's mtime.
	ph, _ := f.srv.Stat(f.folder + "/media/DCIM/Camera/IMG_20210503_080910.jpg")
	if !ph.ClientModified.Equal(takenDate) {
		t.Errorf("photo client_modified %v, want the date taken %v", ph.ClientModified, takenDate)
	}
	// Small files went through sessions committed in one batch, never one
	// commit per file.
	if got := f.srv.Count(dropboxtest.RouteFinishBatch); got != 1 {
		t.Errorf("finish_batch_v2 called %d times, want 1", got)
	}
	if got := f.srv.Count(dropboxtest.RouteUpload); got != 0 {
		t.Errorf("files/upload called %d times, want 0", got)
	}
}

func TestRerunWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name        string
		freshLedger bool
	}{
		{"same ledger", false},
		{"ledger lost its writes (crash before flush)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			snap := defaultSample(t)
			led := openLedger(t)
			if err := f.importer().Import(context.Background(), snap, led, nil); err != nil {
				t.Fatal(err)
			}
			before, files := f.srv.Writes(), len(f.srv.Files())
			if tc.freshLedger {
				led = openLedger(t)
			}
			rep := &tally{}
			if err := f.importer().Import(context.Background(), snap, led, rep); err != nil {
				t.Fatal(err)
			}
			if got := f.srv.Writes() - before; got != 0 {
				t.Errorf("re-run made %d writes, want 0", got)
			}
			if got := len(f.srv.Files()); got != files {
				t.Errorf("re-run left %d files, want %d (no conflicted copies)", got, files)
			}
			if got := rep.Count("import", "", progress.Unchanged); got != files {
				t.Errorf("re-run reported %d unchanged, want %d", got, files)
			}
		})
	}
}

func smallFiles(t testing.TB, n int) (*snapshot.Reader, int) {
	var att []sampleFile
	for i := range n {
		att = append(att, sampleFile{path: fmt.Sprintf("messages/attachments/%d/p%d.txt", i%37, i), data: fmt.Sprintf("part %d", i)})
	}
	snap := buildSnapshot(t, nil, att)
	total := 0
	for _, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		total++
	}
	return snap, total
}

func TestThousandSmallFilesCommitInBatches(t *testing.T) {
	snap1000, total1000 := smallFiles(t, 1000)
	snap120, total120 := smallFiles(t, 120)
	for _, tc := range []struct {
		name      string
		snap      *snapshot.Reader
		total     int
		batch     int
		wantBatch int
	}{
		{"1000 attachments and the sample documents, default batch", snap1000, total1000, 0, (total1000 + 999) / 1000},
		{"batches of 50", snap120, total120, 50, (total120 + 49) / 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.PageSize = 300 // listing pages through cursors too
			im := f.importer(func(c *Config) { c.BatchSize = tc.batch; c.Concurrency = 4 })
			if err := im.Import(context.Background(), tc.snap, openLedger(t), nil); err != nil {
				t.Fatal(err)
			}
			if got := len(f.srv.Files()); got != tc.total {
				t.Fatalf("Dropbox holds %d files, want %d", got, tc.total)
			}
			c := f.srv.Counts()
			t.Logf("%d files: requests %v", tc.total, c)
			if c[dropboxtest.RouteStart] != tc.total {
				t.Errorf("upload_session/start: %d, want one per file (%d)", c[dropboxtest.RouteStart], tc.total)
			}
			if c[dropboxtest.RouteFinishBatch] != tc.wantBatch {
				t.Errorf("finish_batch_v2: %d, want %d", c[dropboxtest.RouteFinishBatch], tc.wantBatch)
			}
			if c[dropboxtest.RouteUpload]+c[dropboxtest.RouteFinish] != 0 {
				t.Errorf("per-file commits made: %v", c)
			}
			// A second run with a lost ledger only lists (pages of 300).
			before := f.srv.Counts()
			if err := im.Import(context.Background(), tc.snap, openLedger(t), nil); err != nil {
				t.Fatal(err)
			}
			after := f.srv.Counts()
			for route, n := range after {
				if d := n - before[route]; d != 0 && route != dropboxtest.RouteList && route != dropboxtest.RouteContinue {
					t.Errorf("re-run called %s %d times", route, d)
				}
			}
		})
	}
}

func TestLargeFilesGoThroughSessions(t *testing.T) {
	type want struct{ start, appends, finish int }
	cases := []struct {
		name             string
		size             int64
		threshold, chunk int64
		want             want
	}{
		// Small thresholds exercise the same path quickly.
		{"2.5 MiB file in 1 MiB chunks", 5 << 19, 1 << 18, 1 << 20, want{1, 2, 1}},
		{"exactly two chunks", 2 << 20, 1 << 18, 1 << 20, want{1, 1, 1}},
		// The real thing: over files/upload's 150 MB limit, 64 MiB chunks.
		{"200 MB file", 200_000_000, 0, 0, want{1, 2, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.size > 100<<20 && testing.Short() {
				t.Skip("200 MB upload skipped with -short")
			}
			dir := t.TempDir()
			w, err := snapshot.Create(dir, snapshot.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddMedia(context.Background(), mapping.Media{Path: "DCIM/Camera/VID_大.mp4", Size: tc.size, ModTime: modDate},
				func(context.Context) (io.ReadCloser, error) { return io.NopCloser(randReader(tc.size, 9)), nil }); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			snap, err := snapshot.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t)
			im := f.importer(func(c *Config) { c.SessionThreshold, c.ChunkSize = tc.threshold, tc.chunk })
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			if err := im.Import(context.Background(), snap, openLedger(t), nil); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&m1)
			// Everything allocated during the run, the fake included: far
			// less than the file, so nothing held it whole.
			alloc := int64(m1.TotalAlloc - m0.TotalAlloc)
			t.Logf("%d-byte file: %d bytes allocated in all", tc.size, alloc)
			if tc.size > 100<<20 && alloc > tc.size/4 {
				t.Errorf("allocated %d bytes for a %d-byte file: the upload does not stream", alloc, tc.size)
			}
			got, ok := f.srv.Stat(f.folder + "/media/DCIM/Camera/VID_大.mp4")
			if !ok {
				t.Fatal("video not stored")
			}
			if got.Size != tc.size {
				t.Errorf("size %d, want %d", got.Size, tc.size)
			}
			if want := localContentHash(t, snap, "media/DCIM/Camera/VID_大.mp4"); got.ContentHash != want {
				t.Errorf("content_hash %s, want %s", got.ContentHash, want)
			}
			c := f.srv.Counts()
			gotW := want{c[dropboxtest.RouteStart], c[dropboxtest.RouteAppend], c[dropboxtest.RouteFinish]}
			if gotW != tc.want {
				t.Errorf("start/append_v2/finish = %v, want %v", gotW, tc.want)
			}
			if c[dropboxtest.RouteUpload] != 0 || c[dropboxtest.RouteFinishBatch] != 0 {
				t.Errorf("unexpected routes: %v", c)
			}
		})
	}
}

func TestCaseCollisionsAndRefusedNames(t *testing.T) {
	f := newFixture(t)
	snap := buildSnapshot(t, nil, []sampleFile{
		{path: "messages/attachments/IMG_1.JPG", data: "upper"},
		{path: "messages/attachments/img_1.jpg", data: "lower"},
		{path: "messages/attachments/Img_1.jpg", data: "mixed"},
		{path: "messages/attachments/Folder /x.txt", data: "trailing space in a folder"},
		{path: "messages/attachments/folder/y.txt", data: "case-different folder"},
		{path: "messages/attachments/名字 ‛␠.txt", data: "look-alikes in the original"},
	})
	rep := &tally{}
	im := f.importer()
	if err := im.Import(context.Background(), snap, openLedger(t), rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	n := 0
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindFile {
			want[e.Path] = localContentHash(t, snap, e.Path)
		}
		n++
	}
	if got := len(f.srv.Files()); got != n {
		t.Fatalf("Dropbox holds %d files, want %d: nothing may overwrite another", got, n)
	}
	got := map[string]string{}
	for r, err := range im.List(context.Background(), mapping.KindFile) {
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := got[r.Path]; dup {
			t.Errorf("List yielded %s twice", r.Path)
		}
		got[r.Path] = r.Hash
	}
	for p, h := range want {
		if got[p] != h {
			t.Errorf("List: %q has hash %q, want %q", p, got[p], h)
		}
	}
	mapped := 0
	for _, e := range rep.events() {
		if e.Action == progress.Copied && strings.HasPrefix(e.Err, "stored as ") {
			mapped++
		}
	}
	if mapped != 4 { // img_1.jpg, Img_1.jpg, "Folder /x.txt" and the look-alikes
		t.Errorf("%d names reported as mapped, want 4", mapped)
	}
}

func TestRateLimitsAndServerErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		faults    []dropboxtest.Fault
		wantSleep time.Duration // a wait that must have been asked for
	}{
		{"too_many_write_operations asks for five minutes", []dropboxtest.Fault{{Route: dropboxtest.RouteFinishBatch, Status: 429, Reason: "too_many_write_operations", RetryAfter: 300 * time.Second}}, 300 * time.Second},
		{"429 on a session start", []dropboxtest.Fault{{Route: dropboxtest.RouteStart, Status: 429, RetryAfter: 45 * time.Second, Times: 2}}, 45 * time.Second},
		{"429 with a plain-text body keeps its Retry-After header", []dropboxtest.Fault{{Route: dropboxtest.RouteStart, Status: 429, RetryAfter: 120 * time.Second, PlainBody: true}}, 120 * time.Second},
		{"503 then 500 on listing", []dropboxtest.Fault{{Route: dropboxtest.RouteList, Status: 503}, {Route: dropboxtest.RouteList, Status: 500}}, 0},
		{"502 on the commit", []dropboxtest.Fault{{Route: dropboxtest.RouteFinishBatch, Status: 502}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for _, fl := range tc.faults {
				f.srv.Inject(fl)
			}
			snap := defaultSample(t)
			if err := f.importer().Import(context.Background(), snap, openLedger(t), nil); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, err := range snap.Files() {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if got := len(f.srv.Files()); got != n {
				t.Errorf("Dropbox holds %d files, want %d", got, n)
			}
			waits := f.sleeps.all()
			if len(waits) == 0 {
				t.Fatal("no retry wait was asked for")
			}
			if tc.wantSleep > 0 {
				found := false
				for _, d := range waits {
					if d >= tc.wantSleep-time.Second && d <= tc.wantSleep+time.Second {
						found = true
					}
				}
				if !found {
					t.Errorf("waits %v do not honour Retry-After %v", waits, tc.wantSleep)
				}
			}
		})
	}
}

func TestInvalidTokenFailsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.srv.Token = "another"
	err := f.importer().Import(context.Background(), defaultSample(t), openLedger(t), nil)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	// The account lookup is the run's first request.
	if got := f.srv.Count(dropboxtest.RouteCurrentAccount); got != 1 {
		t.Errorf("get_current_account tried %d times, want 1 (no retry on 401)", got)
	}
	if got := f.srv.Count(dropboxtest.RouteList); got != 0 {
		t.Errorf("list_folder tried %d times after a 401, want 0", got)
	}
}

func TestVerifyCatchesDeletedAndChangedAndReimportRepairs(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	led := openLedger(t)
	im := f.importer()
	if err := im.Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	gone := "media/DCIM/相机/照片 一.jpg"
	bad := "media/DCIM/Camera/IMG_20210503_080910.jpg"
	f.srv.Remove(f.folder + "/" + gone)
	if err := f.srv.Corrupt(f.folder + "/" + bad); err != nil {
		t.Fatal(err)
	}
	check := func() (missing, different []string) {
		got := map[string]string{}
		for r, err := range im.List(context.Background(), mapping.KindMedia) {
			if err != nil {
				t.Fatal(err)
			}
			got[r.Path] = r.Hash
		}
		for e, err := range snap.Files() {
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != mapping.KindMedia {
				continue
			}
			h, ok := got[e.Path]
			switch {
			case !ok:
				missing = append(missing, e.Path)
			case h != localContentHash(t, snap, e.Path):
				different = append(different, e.Path)
			}
		}
		return
	}
	missing, different := check()
	if len(missing) != 1 || missing[0] != gone {
		t.Errorf("missing = %v, want [%s]", missing, gone)
	}
	if len(different) != 1 || different[0] != bad {
		t.Errorf("different = %v, want [%s]", different, bad)
	}
	if err := f.importer().Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if missing, different := check(); len(missing)+len(different) != 0 {
		t.Errorf("after re-import: missing %v, different %v", missing, different)
	}
}

func TestForeignFileIsKeptNotOverwritten(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	p := f.folder + "/media/DCIM/Camera/IMG_20210503_080910.jpg"
	if err := f.srv.Put(p, []byte("someone else's photo"), modDate); err != nil {
		t.Fatal(err)
	}
	rep := &tally{}
	if err := f.importer().Import(context.Background(), snap, openLedger(t), rep); err != nil {
		t.Fatal(err)
	}
	if data, _ := f.srv.ReadFile(p); string(data) != "jpeg bytes one" {
		t.Errorf("the snapshot's photo is not in place: %q", data)
	}
	kept := ""
	for _, fl := range f.srv.Files() {
		if data, _ := f.srv.ReadFile(fl.Path); string(data) == "someone else's photo" {
			kept = fl.Path
		}
	}
	if !strings.Contains(kept, "IMG_20210503_080910 (kept by miexit ") || !strings.HasSuffix(kept, ".jpg") {
		t.Fatalf("the other file was not kept under a new name: %q", kept)
	}
	reported := false
	for _, e := range rep.events() {
		if e.Action == progress.Copied && strings.Contains(e.Err, kept) {
			reported = true
		}
	}
	if !reported {
		t.Error("the report does not say where the other file went")
	}
}

func TestCancelledImportResumesWithoutDuplicates(t *testing.T) {
	var att []sampleFile
	for i := range 60 {
		att = append(att, sampleFile{path: fmt.Sprintf("messages/attachments/a%d.bin", i), data: fmt.Sprintf("attachment %d", i)})
	}
	snap := buildSnapshot(t, nil, att)
	f := newFixture(t)
	led := openLedger(t)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	rep := progress.Func(func(e progress.Event) {
		n++
		if n == 1 {
			cancel()
		}
	})
	// A small batch so some files are committed before the cancel.
	im := f.importer(func(c *Config) { c.BatchSize = 5; c.Concurrency = 1 })
	if err := im.Import(ctx, snap, led, rep); err == nil {
		t.Fatal("cancelled import reported success")
	}
	if err := im.Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for r, err := range im.List(context.Background(), mapping.KindFile) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[strings.ToLower(r.Path)] {
			t.Errorf("%s listed twice", r.Path)
		}
		seen[strings.ToLower(r.Path)] = true
	}
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindFile && !seen[strings.ToLower(e.Path)] {
			t.Errorf("%s missing after resume", e.Path)
		}
	}
	for _, fl := range f.srv.Files() {
		if strings.Contains(fl.Path, " (1)") {
			t.Errorf("conflicted copy %s", fl.Path)
		}
	}
}

func TestListRecordsMatchManifest(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	im := f.importer()
	// Before any import: nothing, and no error.
	for _, err := range im.List(context.Background(), mapping.KindContact) {
		t.Fatalf("empty destination: %v", err)
	}
	if err := im.Import(context.Background(), snap, openLedger(t), nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for e, err := range snap.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		if !snapshot.WholeFile(e.Kind) {
			want[string(e.Kind)+" "+e.Key] = e.SHA256
		}
	}
	got := map[string]string{}
	for _, k := range []mapping.Kind{mapping.KindContact, mapping.KindMessage, mapping.KindCall} {
		for r, err := range im.List(context.Background(), k) {
			if err != nil {
				t.Fatal(err)
			}
			got[string(r.Kind)+" "+r.Key] = r.SHA256
		}
	}
	if len(got) != len(want) || len(want) != 3 {
		t.Fatalf("records: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: sha256 %s, want %s", k, got[k], v)
		}
	}
	h := im.NewHash()
	h.Write([]byte("abc"))
	if fmt.Sprintf("%x", h.Sum(nil)) != "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358" {
		t.Error("NewHash is not Dropbox's content hash")
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t)
	rep := &tally{}
	im := f.importer(func(c *Config) { c.DryRun = true })
	if err := im.Import(context.Background(), defaultSample(t), openLedger(t), rep); err != nil {
		t.Fatal(err)
	}
	if f.srv.Writes() != 0 {
		t.Errorf("dry run made %d writes", f.srv.Writes())
	}
	if rep.Count("import", "", progress.WouldCopy) == 0 {
		t.Error("dry run reported nothing it would copy")
	}
}

func TestLargeUploadResumesItsSession(t *testing.T) {
	const size = 5 << 19 // 2.5 MiB in 1 MiB chunks: start + 2 appends
	for _, tc := range []struct {
		name string
		// lag rewinds the saved offset, as if the run died between an
		// append and its save.
		lag bool
		// expire drops every session, as Dropbox does after 7 days.
		expire     bool
		wantStarts int
	}{
		{"resumes at the saved offset", false, false, 1},
		{"saved offset behind Dropbox's", true, false, 1},
		{"expired session starts over", false, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := snapshot.Create(dir, snapshot.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddMedia(context.Background(), mapping.Media{Path: "VID.mp4", Size: size, ModTime: modDate},
				func(context.Context) (io.ReadCloser, error) { return io.NopCloser(randReader(size, 3)), nil }); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			snap, err := snapshot.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t)
			led := openLedger(t)
			cfg := func(c *Config) { c.SessionThreshold, c.ChunkSize = 1<<18, 1<<20; c.Retry.Attempts = 2 }
			im := f.importer(cfg)
			// Dropbox fails every attempt of the first append: the run fails
			// after the session started.
			f.srv.Inject(dropboxtest.Fault{Route: dropboxtest.RouteAppend, Status: 503, Times: 2})
			if err := im.Import(context.Background(), snap, led, nil); err == nil {
				t.Fatal("import succeeded through a dead connection")
			}
			if _, ok := f.srv.Stat(f.folder + "/media/VID.mp4"); ok {
				t.Fatal("a partial file was committed")
			}
			dest, err := importers.LedgerKey(context.Background(), im)
			if err != nil {
				t.Fatal(err)
			}
			rec, ok, err := led.Get(dest, "media/VID.mp4")
			if err != nil || !ok || rec.Extra[xSession] == "" {
				t.Fatalf("no saved session: %+v %v %v", rec, ok, err)
			}
			if tc.lag {
				rec.Extra[xOffset] = "0"
				if err := led.PutNow(dest, "media/VID.mp4", rec); err != nil {
					t.Fatal(err)
				}
			}
			if tc.expire {
				f.srv.ExpireSessions()
			}
			if err := f.importer(cfg).Import(context.Background(), snap, led, nil); err != nil {
				t.Fatal(err)
			}
			got, ok := f.srv.Stat(f.folder + "/media/VID.mp4")
			if !ok || got.Size != size || got.ContentHash != localContentHash(t, snap, "media/VID.mp4") {
				t.Fatalf("resumed upload stored %+v", got)
			}
			if n := f.srv.Count(dropboxtest.RouteStart); n != tc.wantStarts {
				t.Errorf("%d sessions started, want %d", n, tc.wantStarts)
			}
		})
	}
}

func TestBatchEntriesRefusedForWriteContentionAreRecommitted(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	f.srv.FailBatchEntries(3, "too_many_write_operations")
	if err := f.importer().Import(context.Background(), snap, openLedger(t), nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if got := len(f.srv.Files()); got != n {
		t.Errorf("Dropbox holds %d files, want %d", got, n)
	}
	if got := f.srv.Count(dropboxtest.RouteFinishBatch); got != 2 {
		t.Errorf("finish_batch_v2 called %d times, want 2 (the refused entries again)", got)
	}
	if got := f.srv.Count(dropboxtest.RouteStart); got != n {
		t.Errorf("%d sessions started for %d files: refused entries must reuse theirs", got, n)
	}
	if len(f.sleeps.all()) == 0 {
		t.Error("recommitted without waiting")
	}
}

func TestNamesDoNotDependOnManifestOrder(t *testing.T) {
	for _, order := range [][]string{{"IMG_1.JPG", "img_1.jpg"}, {"img_1.jpg", "IMG_1.JPG"}} {
		var att []sampleFile
		for _, n := range order {
			att = append(att, sampleFile{path: "messages/attachments/" + n, data: n})
		}
		att = append(att, sampleFile{path: "Messages/x.txt", data: "x"})
		snap := buildSnapshot(t, nil, att)
		f := newFixture(t)
		plan, err := f.importer().plan(snap, openLedger(t), "unused: the ledger is empty")
		if err != nil {
			t.Fatal(err)
		}
		if got := plan["messages/attachments/IMG_1.JPG"].remote; got != f.folder+"/messages/attachments/IMG_1.JPG" {
			t.Errorf("order %v: IMG_1.JPG -> %s", order, got)
		}
		if got := plan["messages/attachments/img_1.jpg"].remote; got != f.folder+"/messages/attachments/img_1‛2.jpg" {
			t.Errorf("order %v: img_1.jpg -> %s", order, got)
		}
		// An attachment folder that sorts first never pushes a document aside.
		if got := plan[snapshot.MessagesPath].remote; got != f.folder+"/"+snapshot.MessagesPath {
			t.Errorf("messages.jsonl -> %s", got)
		}
		if got := plan["Messages/x.txt"].remote; got != f.folder+"/Messages‛2/x.txt" {
			t.Errorf("Messages/x.txt -> %s", got)
		}
	}
}

func TestNamesStickAcrossSnapshots(t *testing.T) {
	f := newFixture(t)
	led := openLedger(t)
	both := buildSnapshot(t, nil, []sampleFile{
		{path: "messages/attachments/IMG_1.JPG", data: "upper"},
		{path: "messages/attachments/img_1.jpg", data: "lower"},
	})
	if err := f.importer().Import(context.Background(), both, led, nil); err != nil {
		t.Fatal(err)
	}
	// The phone lost IMG_1.JPG; the next snapshot has only img_1.jpg, which
	// must stay where it is rather than take the freed plain name.
	one := buildSnapshot(t, nil, []sampleFile{{path: "messages/attachments/img_1.jpg", data: "lower"}})
	before := f.srv.Writes()
	rep := &tally{}
	if err := f.importer().Import(context.Background(), one, led, rep); err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.events() {
		if e.Item == "messages/attachments/img_1.jpg" && e.Action != progress.Unchanged {
			t.Errorf("img_1.jpg: %s %s, want unchanged", e.Action, e.Err)
		}
	}
	for _, fl := range f.srv.Files() {
		if strings.Contains(fl.Path, "kept by miexit") {
			t.Errorf("a file was moved aside: %s", fl.Path)
		}
	}
	// The documents of both snapshots are the same: nothing to write.
	if d := f.srv.Writes() - before; d != 0 {
		t.Errorf("%d writes for a snapshot whose only file is already there", d)
	}
}

func TestListDoesNotNeedParentsFirst(t *testing.T) {
	f := newFixture(t)
	snap := defaultSample(t)
	im := f.importer()
	if err := im.Import(context.Background(), snap, openLedger(t), nil); err != nil {
		t.Fatal(err)
	}
	f.srv.ChildrenFirst, f.srv.PageSize = true, 2
	want := map[string]bool{}
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindMedia {
			want[e.Path] = true
		}
	}
	got := map[string]bool{}
	for r, err := range im.List(context.Background(), mapping.KindMedia) {
		if err != nil {
			t.Fatal(err)
		}
		got[r.Path] = true
	}
	if len(got) != len(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	for p := range want {
		if !got[p] {
			t.Errorf("%s not listed", p)
		}
	}
}

func TestRetryAfterPausesEveryWorker(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(dropboxtest.Fault{Route: dropboxtest.RouteStart, Status: 429, RetryAfter: 90 * time.Second})
	if err := f.importer().Import(context.Background(), defaultSample(t), openLedger(t), nil); err != nil {
		t.Fatal(err)
	}
	// The test's sleep returns at once, so the shared pause is still on
	// when the commit runs: the commit, which was never refused, waits too.
	long := 0
	for _, d := range f.sleeps.all() {
		if d > 80*time.Second {
			long++
		}
	}
	if long < 2 {
		t.Errorf("waits %v: only the refused request paused", f.sleeps.all())
	}
}

// Answers cut short after Dropbox did the work (a good status, then an
// unexpected EOF) are retried, and the retries leave one copy of each file.
func TestCutShortAnswersAreRetriedIntoOneCopy(t *testing.T) {
	for _, route := range []string{dropboxtest.RouteStart, dropboxtest.RouteFinishBatch, dropboxtest.RouteList} {
		t.Run(route, func(t *testing.T) {
			f := newFixture(t)
			f.srv.Inject(dropboxtest.Fault{Route: route, Truncate: true, Times: 2})
			f.srv.Inject(dropboxtest.Fault{Route: route, Reset: true})
			if err := f.importer().Import(context.Background(), defaultSample(t), openLedger(t), nil); err != nil {
				t.Fatalf("import through cut-short answers: %v", err)
			}
			for _, file := range f.srv.Files() {
				if strings.Contains(file.Path, "conflicted copy") || strings.Contains(file.Path, "(1)") {
					t.Errorf("a second copy: %s", file.Path)
				}
			}
		})
	}
}

// A small file new to the folder is not read before it is sent (its
// content_hash follows from the manifest); a snapshot file changed after
// the export is still caught (its session is never committed), whether
// Dropbox refuses it or it is read first (a large one), and the others
// land.
func TestAChangedSnapshotFileIsNeverCommitted(t *testing.T) {
	f := newFixture(t)
	snap := buildSnapshot(t, []sampleFile{
		{path: "DCIM/small.jpg", data: "jpeg bytes one"},
		{path: "DCIM/large.mp4", data: strings.Repeat("video bytes ", 300)},
		{path: "DCIM/other.jpg", data: "jpeg bytes two"},
	}, nil)
	var small, large mapping.Entry
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(e.Path, "/small.jpg"):
			small = e
		case strings.HasSuffix(e.Path, "/large.mp4"):
			large = e
		}
	}
	if small.Path == "" || large.Path == "" {
		t.Fatalf("the sample has no small (%q) or large (%q) file", small.Path, large.Path)
	}
	for _, e := range []mapping.Entry{small, large} {
		p, err := snap.Path(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := &tally{}
	err := f.importer(func(c *Config) { c.SessionThreshold = 1 << 10 }).Import(context.Background(), snap, openLedger(t), rep)
	if err == nil || !strings.Contains(err.Error(), "2 files failed") {
		t.Errorf("err = %v, want 2 files failed", err)
	}
	failed := map[string]string{}
	for _, ev := range rep.events() {
		if ev.Action == progress.Failed {
			failed[ev.Item] = ev.Err
		}
	}
	for _, e := range []mapping.Entry{small, large} {
		if !strings.Contains(failed[e.Path], "no longer matches its manifest") {
			t.Errorf("%s: failure %q, want one naming the manifest", e.Path, failed[e.Path])
		}
		if _, ok := f.srv.Stat(f.folder + "/" + e.Path); ok {
			t.Errorf("%s: the changed file is in Dropbox", e.Path)
		}
	}
	if n := rep.Count("import", "", progress.Copied); n == 0 {
		t.Error("nothing else landed")
	}
}

// A file of more than one block below the session threshold is hashed on
// the way: changed behind the manifest, its session is never committed.
func TestAChangedFileOfTwoBlocksIsCaughtOnTheWay(t *testing.T) {
	f := newFixture(t)
	b, err := io.ReadAll(randReader(dropboxhash.BlockSize+10, 4))
	if err != nil {
		t.Fatal(err)
	}
	snap := buildSnapshot(t, []sampleFile{{path: "DCIM/clip.mp4", data: string(b)}, {path: "DCIM/ok.jpg", data: "jpeg"}}, nil)
	var clip mapping.Entry
	n := 0
	for e, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if strings.HasSuffix(e.Path, "/clip.mp4") {
			clip = e
		}
	}
	p, err := snap.Path(clip.Path)
	if err != nil {
		t.Fatal(err)
	}
	b[dropboxhash.BlockSize+5] ^= 0xff // in the second block
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &tally{}
	err = f.importer().Import(context.Background(), snap, openLedger(t), rep)
	if err == nil || !strings.Contains(err.Error(), "1 files failed") {
		t.Errorf("err = %v, want 1 files failed", err)
	}
	for _, ev := range rep.events() {
		if ev.Action == progress.Failed && (ev.Item != clip.Path || !strings.Contains(ev.Err, "no longer matches its manifest")) {
			t.Errorf("failure %s: %q, want %s naming the manifest", ev.Item, ev.Err, clip.Path)
		}
	}
	if _, ok := f.srv.Stat(f.folder + "/" + clip.Path); ok {
		t.Error("the changed file is in Dropbox")
	}
	if got := rep.Count("import", "", progress.Copied); got != n-1 {
		t.Errorf("%d files landed, want the other %d", got, n-1)
	}
}
