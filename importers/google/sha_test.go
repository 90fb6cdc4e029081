package google

import (
	"errors"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
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

// A snapshot file whose bytes no longer match its manifest (changed on
// disk after the export) must not land on Drive as if it were the
// original: whether Drive gives its sha256 or only its md5, and for a
// multipart and a resumable upload, the run fails naming the file and
// the upload is removed. Nothing was read before the upload, so this is
// what the check after it is for.
func TestAChangedSnapshotFileIsRefusedAfterItsUpload(t *testing.T) {
	for _, noSHA := range []bool{false, true} {
		for _, rel := range []string{"media/DCIM/Camera/IMG_0001.jpg", "media/DCIM/Camera/VID_big.mp4"} {
			e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 700<<10) })
			e.srv.NoSHA256 = noSHA
			p, err := e.snap.Path(rel)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff // same size, other bytes
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = e.run(t)
			if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), rel) || !strings.Contains(err.Error(), "manifest") {
				t.Errorf("no sha256 %v, %s changed: err = %v, want a bad-input error naming it", noSHA, rel, err)
			}
			for _, f := range e.srv.Files() {
				if strings.HasSuffix(f.Path, "/"+path.Base(rel)) {
					t.Errorf("no sha256 %v: the changed %s is on Drive as %s", noSHA, rel, f.Path)
				}
			}
		}
	}
}
