package google

import (
	"context"
	"strings"
	"testing"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// Files streamed to Drive during an export are known to the Import that
// follows by the stream's own tree, not by listing Drive again: Drive's
// queries may not show a file created a moment ago, and a listing that
// misses one would upload it twice. The fake here hides every new file
// from files.list for the rest of the test.
func TestImportAfterAStreamUploadsNothingTwice(t *testing.T) {
	for _, noSHA := range []bool{false, true} {
		t.Run(map[bool]string{false: "sha256", true: "md5 only"}[noSHA], func(t *testing.T) {
			importAfterStream(t, noSHA)
		})
	}
}

func importAfterStream(t *testing.T, noSHA bool) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 700<<10) })
	e.srv.ListLag = 1000
	e.srv.NoSHA256 = noSHA
	ctx := context.Background()
	im := e.importer(t)
	var got progress.Tally
	sink, err := im.StreamFiles(ctx, snapshot.Folder(e.snap.Dir()), e.led, &got)
	if err != nil {
		t.Fatal(err)
	}
	if sink.Workers() < 1 {
		t.Fatalf("Workers() = %d", sink.Workers())
	}
	streamed := map[string]bool{}
	for f, err := range e.snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind != mapping.KindMedia {
			continue
		}
		if err := sink.ImportFile(ctx, f); err != nil {
			t.Fatalf("ImportFile(%s): %v", f.Path, err)
		}
		streamed[f.Path] = true
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if len(streamed) < 3 {
		t.Fatalf("only %d media files streamed", len(streamed))
	}
	if n := got.Count("import", mapping.KindMedia, progress.Copied); n != len(streamed) {
		t.Fatalf("the stream reported %d of %d files copied", n, len(streamed))
	}
	uploads := func() int { return e.srv.Count(googletest.EPUploadMultipart) + e.srv.Count(googletest.EPUploadStart) }
	before := uploads()
	var tally progress.Tally
	if err := im.Import(ctx, e.snap, e.led, &tally); err != nil {
		t.Fatal(err)
	}
	if n := tally.Count("import", mapping.KindMedia, progress.Unchanged); n != len(streamed) {
		t.Errorf("the import found %d of the %d streamed files done", n, len(streamed))
	}
	if n := tally.Count("import", mapping.KindMedia, progress.Copied); n != 0 {
		t.Errorf("the import uploaded %d streamed files again", n)
	}
	// The notes and documents were not streamed: the import uploads them.
	if n := uploads() - before; n == 0 {
		t.Error("the import uploaded nothing: the documents and notes are missing")
	}
	copies := fileCopies(e.srv)
	for p := range streamed {
		n := 0
		for path, c := range copies {
			if strings.HasSuffix(path, "/"+p) {
				n += c
			}
		}
		if n != 1 {
			t.Errorf("%s is on Drive %d times, want once", p, n)
		}
	}
}

// A listing that does not show files uploaded a moment before (Drive's
// queries are not read-after-write consistent) must not make the next
// import upload them again: the ledger's ids are looked up one by one.
func TestALaggingListingMakesNoSecondCopies(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 700<<10) })
	e.srv.ListLag = 1000 // hidden from every listing for the rest of the test
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	files := 0
	for f := range e.snap.Files() {
		_ = f
		files++
	}
	tally, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if n := tally.Count("import", "", progress.Copied); n != 0 {
		t.Errorf("the second import copied %d files again", n)
	}
	if n := tally.Count("import", "", progress.Unchanged); n < files {
		t.Errorf("the second import found %d of %d files there", n, files)
	}
	copies := fileCopies(e.srv)
	for p, n := range copies {
		if n != 1 {
			t.Errorf("%s is on Drive %d times", p, n)
		}
	}
	if len(copies) < files {
		t.Errorf("Drive holds %d files, the snapshot %d", len(copies), files)
	}
}

// An upload whose answer is lost after Drive made the file is not made
// twice, even while listings do not show the new file: the retry asks
// for the file by the id chosen before the first try.
func TestALostUploadAnswerMakesNoSecondCopy(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 0) })
	e.srv.ListLag = 1000
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPUploadMultipart, Truncate: true, Times: 2})
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	copies := fileCopies(e.srv)
	for p, n := range copies {
		if n != 1 {
			t.Errorf("%s is on Drive %d times", p, n)
		}
	}
	files := 0
	for f, err := range e.snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		files++
		if n := copies["miexit/adb_TEST123/"+f.Path]; n != 1 {
			t.Errorf("%s is on Drive %d times, want once", f.Path, n)
		}
	}
	if len(copies) != files {
		t.Errorf("Drive holds %d files, the snapshot %d", len(copies), files)
	}
}

// fileCopies counts the files (not folders) Drive holds at each path.
func fileCopies(srv *googletest.Server) map[string]int {
	copies := map[string]int{}
	for _, f := range srv.Files() {
		if f.MimeType != googletest.FolderMIME {
			copies[f.Path]++
		}
	}
	return copies
}

// A check right after the upload must not call the new files missing when
// Drive's listing does not show them yet: each is looked up by the id the
// ledger recorded (Recheck). A file trashed since, or never written by
// this importer, is still missing.
func TestACheckAfterAnUploadFindsFilesTheListingLacks(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 700<<10) })
	e.srv.ListLag = 1000 // hidden from every listing for the rest of the test
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := verify.Run(ctx, e.snap, e.importer(t), e.led)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("the check after the upload found problems: %+v", res.Problems)
	}
	media := 0
	for _, r := range res.Rows {
		if r.Kind == mapping.KindMedia {
			media = r.Destination
			if r.Source == 0 || r.Destination != r.Source {
				t.Fatalf("media row %+v", r)
			}
		}
	}
	// The import a failed check is followed by (verify.Settle) finds
	// everything there: the check forgot no ledger record. Before
	// Recheck, it forgot them all and every file went up a second time.
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	for p, n := range fileCopies(e.srv) {
		if n != 1 {
			t.Errorf("%s is on Drive %d times after the check and an import", p, n)
		}
	}
	// Without the ledger, nothing hidden can be vouched for.
	res, err = verify.Run(ctx, e.snap, e.importer(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK {
		t.Fatal("a check without the ledger passed while the listing shows nothing")
	}
	// A file deleted since is missing, whatever the ledger says.
	var trashed string
	for f, err := range e.snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind == mapping.KindMedia {
			trashed = f.Path
			break
		}
	}
	im := e.importer(t)
	dest, err := importers.LedgerKey(ctx, im)
	if err != nil {
		t.Fatal(err)
	}
	rec, ok, err := e.led.Get(dest, trashed)
	if err != nil || !ok || rec.RemoteID == "" || !e.srv.DeleteFile(rec.RemoteID) {
		t.Fatalf("deleting %s (%+v, %v, %v)", trashed, rec, ok, err)
	}
	res, err = verify.Run(ctx, e.snap, im, e.led)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || len(res.Problems) != 1 || res.Problems[0].Path != trashed || res.Problems[0].Problem != "missing" {
		t.Fatalf("after trashing %s (of %d media): OK %v, problems %+v", trashed, media, res.OK, res.Problems)
	}
}
