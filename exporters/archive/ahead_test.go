package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/miexit/miexit/internal/snapshot"
)

// Hashing ahead on other goroutines must not change what the snapshot
// holds or the order of its manifest.
func TestHashingAheadKeepsTheSequentialManifest(t *testing.T) {
	src := t.TempDir()
	for i := range 60 {
		dir := filepath.Join(src, "DCIM", fmt.Sprintf("d%d", i%3))
		os.MkdirAll(dir, 0o755)
		body := append([]byte("\xff\xd8\xff\xe0"), []byte(fmt.Sprintf("photo %d %s", i, make([]byte, i*1000)))...)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("IMG_%03d.jpg", i)), body, 0o644)
		if i%20 == 0 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("notes-%d.vcf", i)), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:P"+fmt.Sprint(i)+"\r\nEND:VCARD\r\n"), 0o644)
		}
	}
	// Real photos with EXIF dates, and a video with an MP4 header date.
	for _, f := range []string{"DCIM/Camera/IMG_20240501_101500.jpg", "DCIM/Camera/VID_20240502_120000.mp4"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample", filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			os.WriteFile(filepath.Join(src, "DCIM", "d1", fmt.Sprintf("x%d-%s", i, filepath.Base(f))), b, 0o644)
		}
	}
	seq, ahead := exportWith(t, src, snapshot.Options{}).entries, exportWith(t, src, snapshot.Options{LinkLocal: true}).entries
	if len(seq) != len(ahead) || len(seq) < 73 {
		t.Fatalf("%d entries linked ahead, %d copied", len(ahead), len(seq))
	}
	exif := 0
	for i := range seq {
		a, b := seq[i], ahead[i]
		if a.TakenFrom == "exif" || a.TakenFrom == "mp4" {
			exif++
		}
		if a.Kind != b.Kind || a.Key != b.Key || a.Path != b.Path || a.SHA256 != b.SHA256 || a.Size != b.Size || a.MIME != b.MIME || !a.Taken.Equal(b.Taken) || a.TakenFrom != b.TakenFrom {
			t.Fatalf("entry %d: %+v linked ahead, %+v copied", i, b, a)
		}
	}
	if exif < 10 {
		t.Fatalf("only %d entries dated from EXIF or MP4: the test photos lost their metadata", exif)
	}
}
