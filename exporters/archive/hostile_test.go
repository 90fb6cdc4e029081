package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

var jpg = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{9}, 200)...)

func exportZip(t *testing.T, build func(zw *zip.Writer)) (string, *progress.Tally, error) {
	t.Helper()
	root := t.TempDir()
	zp := filepath.Join(root, "in.zip")
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	build(zw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(zp, b.Bytes(), 0o644)
	dst := filepath.Join(root, "out", "snap")
	tally := &progress.Tally{}
	w, err := snapshot.Create(dst, snapshot.Options{Progress: tally})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := New(exporters.Params{Arg: zp})
	err = e.Export(context.Background(), w)
	if err == nil {
		err = w.Commit(context.Background())
	} else {
		w.Abort()
	}
	return root, tally, err
}

func add(t *testing.T, zw *zip.Writer, h *zip.FileHeader, data []byte) {
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
}

func TestZipSlipAndAbsolutePathsAreSkippedNotWritten(t *testing.T) {
	root, tally, err := exportZip(t, func(zw *zip.Writer) {
		for _, n := range []string{"../../evil.jpg", "/abs/evil.jpg", "a/../../evil.jpg", "ok/IMG_1.jpg"} {
			add(t, zw, &zip.FileHeader{Name: n, Method: zip.Store}, jpg)
		}
		link := &zip.FileHeader{Name: "DCIM/link.jpg"}
		link.SetMode(os.ModeSymlink | 0o777)
		add(t, zw, link, []byte("/etc/passwd"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := tally.Count("export", "", progress.Skipped); n != 4 {
		t.Errorf("%d members skipped, want 4 (three escaping paths and a symlink)", n)
	}
	if n := tally.Count("export", mapping.KindMedia, progress.Copied); n != 1 {
		t.Errorf("%d media copied, want 1", n)
	}
	filepath.WalkDir(filepath.Dir(root), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "evil") {
			t.Errorf("hostile member written at %s", p)
		}
		return nil
	})
}

func TestZipBombIsRefusedNamingTheMember(t *testing.T) {
	_, _, err := exportZip(t, func(zw *zip.Writer) {
		add(t, zw, &zip.FileHeader{Name: "DCIM/bomb.jpg", Method: zip.Deflate}, append(bytes.Clone(jpg), make([]byte, 4<<20)...))
	})
	if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "DCIM/bomb.jpg") || !strings.Contains(err.Error(), "zip bomb") {
		t.Fatalf("got %v", err)
	}
}

func TestMalformedInputNamesTheFile(t *testing.T) {
	_, _, err := exportZip(t, func(zw *zip.Writer) {
		add(t, zw, &zip.FileHeader{Name: "texts/messages.jsonl"}, []byte("{\"body\":\"ok\"}\n{not json\n"))
	})
	if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "texts/messages.jsonl") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v", err)
	}
}
