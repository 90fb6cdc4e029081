package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/mapping"
)

// exportLocal exports the one local file src as media/DCIM/a.jpg.
func exportLocal(t *testing.T, dir, src string, link bool, opens *int) *progress.Tally {
	t.Helper()
	ctx := context.Background()
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	tally := &progress.Tally{}
	w, err := Create(dir, Options{Progress: tally, LinkLocal: link})
	if err != nil {
		t.Fatal(err)
	}
	m := mapping.Media{Path: "DCIM/a.jpg", Size: st.Size(), ModTime: st.ModTime(), Local: src}
	open := func(context.Context) (io.ReadCloser, error) { *opens++; return os.Open(src) }
	if err := w.AddMedia(ctx, m, open); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return tally
}

func mediaEntry(t *testing.T, dir string) mapping.Entry {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindMedia {
			return e
		}
	}
	t.Fatal("no media entry")
	return mapping.Entry{}
}

func TestLinkLocalLinksWithoutTouchingTheSource(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "phone", "a.jpg")
	os.MkdirAll(filepath.Dir(src), 0o755)
	if err := os.WriteFile(src, jpeg, 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2023, 5, 6, 7, 8, 9, 123456789, time.UTC)
	os.Chtimes(src, mt, mt)
	dir := filepath.Join(root, "snap")
	opens := 0
	exportLocal(t, dir, src, true, &opens)

	in := filepath.Join(dir, "media", "DCIM", "a.jpg")
	a, _ := os.Stat(src)
	b, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Fatal("the snapshot holds a copy, not a link")
	}
	if !a.ModTime().Equal(mt) {
		t.Fatalf("the source's mtime changed to %v", a.ModTime())
	}
	if opens != 0 {
		t.Fatalf("a linked file was also copied (%d opens)", opens)
	}
	sum := sha256.Sum256(jpeg)
	e := mediaEntry(t, dir)
	if e.SHA256 != hex.EncodeToString(sum[:]) || e.Size != int64(len(jpeg)) || e.MIME != "image/jpeg" || !e.Modified.Equal(mt.Truncate(time.Second)) {
		t.Fatalf("entry %+v", e)
	}

	// Unchanged: reused without reading it again.
	tally := exportLocal(t, dir, src, true, &opens)
	if tally.Count("export", mapping.KindMedia, progress.Unchanged) != 1 {
		t.Fatal("an unchanged linked file was not reused")
	}

	// The source replaced by an editor (new file renamed over it): the
	// snapshot links the new bytes, and a copy made earlier keeps the old.
	changed := append(bytes.Clone(jpeg), 9)
	tmp := src + ".new"
	os.WriteFile(tmp, changed, 0o644)
	if err := os.Rename(tmp, src); err != nil {
		t.Fatal(err)
	}
	exportLocal(t, dir, src, true, &opens)
	if got, _ := os.ReadFile(in); !bytes.Equal(got, changed) {
		t.Fatal("the changed source was not taken")
	}
	if e := mediaEntry(t, dir); e.Size != int64(len(changed)) {
		t.Fatalf("entry not updated: %+v", e)
	}
	if ents, _ := os.ReadDir(filepath.Dir(in)); len(ents) != 1 {
		t.Fatalf("debris next to the linked file: %v", ents)
	}
}

func TestWithoutLinkLocalTheSnapshotIsACopy(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "a.jpg")
	os.WriteFile(src, jpeg, 0o644)
	dir := filepath.Join(root, "snap")
	opens := 0
	exportLocal(t, dir, src, false, &opens)
	a, _ := os.Stat(src)
	b, err := os.Stat(filepath.Join(dir, "media", "DCIM", "a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(a, b) || opens != 1 {
		t.Fatalf("export without LinkLocal linked the source (opens %d)", opens)
	}
}

func TestLinkRefusedFallsBackToCopy(t *testing.T) {
	// /dev/shm is a tmpfs, another device than the test's temp dir on the
	// machines this runs on; a link across devices fails with EXDEV.
	shm, err := os.MkdirTemp("/dev/shm", "miexit-link-")
	if err != nil {
		t.Skipf("no /dev/shm to make a cross-device source: %v", err)
	}
	defer os.RemoveAll(shm)
	dir := filepath.Join(t.TempDir(), "snap")
	if os.MkdirAll(dir, 0o755) != nil {
		t.Fatal("mkdir")
	}
	a, _ := os.Stat(shm)
	b, _ := os.Stat(dir)
	if sameDevice(a, b) {
		t.Skip("/dev/shm is on the same device as the temp dir here")
	}
	src := filepath.Join(shm, "a.jpg")
	os.WriteFile(src, jpeg, 0o644)
	opens := 0
	exportLocal(t, dir, src, true, &opens)
	got, err := os.ReadFile(filepath.Join(dir, "media", "DCIM", "a.jpg"))
	if err != nil || !bytes.Equal(got, jpeg) || opens != 1 {
		t.Fatalf("fallback copy: err %v, opens %d", err, opens)
	}
	sum := sha256.Sum256(jpeg)
	if e := mediaEntry(t, dir); e.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("entry %+v", e)
	}
}

func TestAnExportSweepsTheTempFilesOfAKilledOne(t *testing.T) {
	dir := t.TempDir()
	debris := []string{
		filepath.Join(dir, "media", "DCIM", ".miexit-tmp-123"),
		filepath.Join(dir, "media", "DCIM", ".miexit-tmp-link-ABC"),
		filepath.Join(dir, ".miexit-tmp-entries-9"),
	}
	for _, p := range debris {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("half a video"), 0o644)
	}
	keep := filepath.Join(dir, "media", "DCIM", "a.jpg")
	os.WriteFile(keep, jpeg, 0o644)
	w, err := Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()
	for _, p := range debris {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("a snapshot file was swept: %v", err)
	}
}

// TestLinkChecksTheFileLinked: link puts src at a free name at once, keeps
// a leftover link to the file hashed, and refuses (leaving the name as it
// was) when src is no longer the file that was hashed.
func TestLinkChecksTheFileLinked(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "a.jpg")
	os.WriteFile(src, jpeg, 0o644)
	hashed, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Create(filepath.Join(root, "snap"), Options{LinkLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Commit(context.Background())
	n := int64(len(jpeg))

	dst := filepath.Join(root, "snap", "media", "new", "a.jpg")
	if ok, err := w.link(src, dst, hashed, n); !ok || err != nil {
		t.Fatalf("link to a free name: %v, %v", ok, err)
	}
	if st, err := os.Stat(dst); err != nil || !os.SameFile(st, hashed) {
		t.Fatalf("not linked: %v", err)
	}
	// Again (a run that stopped before its commit): kept as it is.
	if ok, err := w.link(src, dst, hashed, n); !ok || err != nil {
		t.Fatalf("link over its own leftover: %v, %v", ok, err)
	}

	// src replaced after it was read: refused, at a free name and at a
	// taken one, and the taken name keeps its file.
	os.Remove(src)
	os.WriteFile(src, append(bytes.Clone(jpeg), 1), 0o644)
	free := filepath.Join(root, "snap", "media", "new", "b.jpg")
	if _, err := w.link(src, free, hashed, n); err == nil {
		t.Fatal("linked a file that changed after it was read")
	}
	if _, err := os.Lstat(free); !os.IsNotExist(err) {
		t.Errorf("the refused link was left at %s: %v", free, err)
	}
	older := filepath.Join(root, "snap", "media", "new", "c.jpg")
	os.WriteFile(older, []byte("an earlier snapshot's file"), 0o644)
	if _, err := w.link(src, older, hashed, n); err == nil {
		t.Fatal("replaced a snapshot file with a file that changed after it was read")
	}
	if got, _ := os.ReadFile(older); string(got) != "an earlier snapshot's file" {
		t.Errorf("the snapshot file was replaced: %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 2 {
		t.Errorf("debris next to the snapshot's files: %v", ents)
	}
}
