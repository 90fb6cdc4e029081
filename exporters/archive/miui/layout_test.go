package miui_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/miexit/miexit/exporters/archive/miui"
	"github.com/miexit/miexit/internal/miuigen"
	"github.com/miexit/miexit/mapping"
)

// Both layouts, read the way the archive exporter will: descript.xml for
// the list of files, each .bak recognised by its first bytes and handed
// over as a stream, one Counter for the whole source.
func TestFolderAndZipLayoutsGiveExactCounts(t *testing.T) {
	f := miuigen.New(21, 15)
	opt := miuigen.Options{Compressed: true, Password: "pw", Rounds: 100, Seed: 2}
	want := mapping.Counts{Contacts: 15, Messages: 15 + len(f.MMS), Calls: 15, Notes: len(f.Notes)}
	ctx := context.Background()

	t.Run("AllBackup folder", func(t *testing.T) {
		dir, err := f.WriteFolder(t.TempDir(), opt)
		if err != nil {
			t.Fatal(err)
		}
		df, err := os.Open(filepath.Join(dir, "descript.xml"))
		if err != nil {
			t.Fatal(err)
		}
		defer df.Close()
		d, err := miui.ParseDescript(df)
		if err != nil {
			t.Fatal(err)
		}
		c := miui.NewCounter()
		for _, p := range d.Packages {
			fh, err := os.Open(filepath.Join(dir, p.BakFile))
			if err != nil {
				t.Fatal(err)
			}
			head := make([]byte, 16)
			fh.ReadAt(head, 0)
			if !miui.LooksLikeBackup(head) {
				t.Fatalf("%s not recognised", p.BakFile)
			}
			_, err = miui.Read(ctx, fh, c, miui.Options{Name: p.BakFile, Password: "pw", Prefix: path.Join("MIUI/backup/AllBackup", f.Stamp()), User: p.User})
			fh.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := c.Counts(); got != want {
			t.Errorf("counts %+v, want %+v", got, want)
		}
	})
	t.Run("HyperOS zip", func(t *testing.T) {
		var zb bytes.Buffer
		if err := f.WriteZip(&zb, opt); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len()))
		if err != nil {
			t.Fatal(err)
		}
		c := miui.NewCounter()
		n := 0
		for _, zf := range zr.File {
			r, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			head := make([]byte, 16)
			if _, err := r.Read(head); err != nil {
				t.Fatal(err)
			}
			r.Close()
			if !miui.LooksLikeBackup(head) {
				continue
			}
			r, _ = zf.Open()
			_, err = miui.Read(ctx, r, c, miui.Options{Name: "backup.zip/" + zf.Name, Password: "pw", Prefix: path.Join("backup.zip", path.Dir(zf.Name))})
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != len(miuigen.Kinds) {
			t.Errorf("read %d .bak files, want %d", n, len(miuigen.Kinds))
		}
		if got := c.Counts(); got != want {
			t.Errorf("counts %+v, want %+v", got, want)
		}
	})
}

func TestHostilePrefixIsRefused(t *testing.T) {
	_, err := miui.Read(context.Background(), bytes.NewReader(nil), &collect{}, miui.Options{Prefix: "../../etc"})
	if err == nil {
		t.Fatal("no error")
	}
}

func Example() {
	f := miuigen.New(1, 3)
	b, _ := f.Bak("sms", miuigen.Options{Compressed: true})
	// An inventory counts with a Counter; an export passes
	// miui.SnapshotSink(w) instead.
	c := miui.NewCounter()
	res, err := miui.Read(context.Background(), bytes.NewReader(b), c, miui.Options{Name: miuigen.FileName("sms"), Prefix: "AllBackup/" + f.Stamp()})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Kind, c.Counts().Messages)
	// Output: sms 3
}
