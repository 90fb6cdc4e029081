package archive

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miexit/miexit/exporters"
)

// walkDirState is State as it was with filepath.WalkDir: the digest
// stateWalk must keep giving.
func walkDirState(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%t\x00", stateFormat, false)
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		buf := append([]byte(p), 0)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(info.Mode().Type()))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(info.Size()))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(info.ModTime().UnixNano()))
		h.Write(buf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestStateWalksAsWalkDir: the parallel walk digests a tree (more entries
// than a window, nested and empty folders, a symlink) exactly as the walk
// before it, and sees a change anywhere.
func TestStateWalksAsWalkDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "phone")
	for i := range stateWindow*2 + 7 {
		p := filepath.Join(root, "DCIM", "Camera", fmt.Sprintf("IMG_%04d.jpg", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644)
	}
	os.MkdirAll(filepath.Join(root, "DCIM", "Camera", "sub", "deeper"), 0o755)
	os.WriteFile(filepath.Join(root, "DCIM", "Camera", "sub", "deeper", "a.jpg"), []byte("a"), 0o644)
	os.MkdirAll(filepath.Join(root, "empty"), 0o755)
	os.WriteFile(filepath.Join(root, "messages.jsonl"), []byte("{}\n"), 0o644)
	os.Symlink(filepath.Join(root, "DCIM"), filepath.Join(root, "link"))

	state := func(path string) string {
		t.Helper()
		ex, err := New(exporters.Params{Arg: path})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ex.State(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := state(root)
	if want := walkDirState(t, root); before != want {
		t.Fatalf("State = %s, the WalkDir digest %s", before, want)
	}
	deep := filepath.Join(root, "DCIM", "Camera", "sub", "deeper", "a.jpg")
	later := time.Now().Add(time.Hour)
	os.Chtimes(deep, later, later)
	if state(root) == before {
		t.Error("a file touched deep down did not change the state")
	}
	os.Chtimes(deep, time.Unix(0, 0), time.Unix(0, 0))

	// A symlink to the folder: the export does not follow it, and the
	// state is WalkDir's, the link's alone.
	link := filepath.Join(t.TempDir(), "phone-link")
	if err := os.Symlink(root, link); err != nil {
		t.Skip("no symlinks here")
	}
	if got, want := state(link), walkDirState(t, link); got != want {
		t.Errorf("State of a symlinked folder = %s, WalkDir's %s", got, want)
	}
}
