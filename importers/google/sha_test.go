package google

import (
	"testing"

	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
)

// Drive promises md5Checksum, not sha256Checksum. Where it gives the
// sha256, an upload costs no request beyond the upload itself; where it
// does not, miexit records the md5 it checked, so verify still vouches for
// every file and a re-run uploads nothing.
func TestUploadsAreVouchedForWithOrWithoutDrivesSHA256(t *testing.T) {
	for _, noSHA := range []bool{false, true} {
		e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 700<<10) })
		e.srv.NoSHA256 = noSHA
		if _, err := e.run(t); err != nil {
			t.Fatalf("no sha256 %v: %v", noSHA, err)
		}
		uploads := e.srv.Count(googletest.EPUploadMultipart) + e.srv.Count(googletest.EPUploadStart)
		updates := e.srv.Count(googletest.EPFilesUpdate)
		want := 0
		if noSHA {
			want = uploads // one md5 record per uploaded file
		}
		if updates != want {
			t.Errorf("no sha256 %v: %d metadata updates after %d uploads, want %d", noSHA, updates, uploads, want)
		}
		if missing, different := checkVerify(t, e.importer(t), e.snap); len(missing)+len(different) > 0 {
			t.Errorf("no sha256 %v: verify finds missing %v, different %v", noSHA, missing, different)
		}
		tally, err := e.run(t)
		if err != nil {
			t.Fatal(err)
		}
		if n := tally.Count("import", "", progress.Copied); n != 0 {
			t.Errorf("no sha256 %v: a re-run copied %d files again", noSHA, n)
		}
	}
}
