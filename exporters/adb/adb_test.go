package adb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/exporters"
	adbexp "github.com/miexit/miexit/exporters/adb"
	"github.com/miexit/miexit/exporters/exportertest"
	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func fakeExporter(t *testing.T, d *adbtest.Device) *adbexp.Exporter {
	t.Helper()
	srv := adbtest.NewServer(t, d)
	ex, err := adbexp.Open(context.Background(), &adb.Client{Addr: srv.Addr}, "", adbexp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func export(t *testing.T, ex exporters.Exporter, dir string) mapping.Counts {
	t.Helper()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "adb:test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Export(context.Background(), w); err != nil {
		w.Abort()
		t.Fatalf("export: %v", err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w.Counts()
}

func TestExportFromFakePhone(t *testing.T) {
	d := samplePhone("fake1")
	checkExport(t, d, fakeExporter(t, d))
}

func TestExportThroughRealADBServer(t *testing.T) {
	real := adbtest.StartRealServer(t)
	d := samplePhone("")
	serial := real.Connect(t, d.Listen(t))
	// The registry path, as the CLI uses it: the server from the environment.
	t.Setenv("ANDROID_ADB_SERVER_PORT", real.Port)
	t.Setenv("ADB_SERVER_SOCKET", "")
	ex, err := exporters.Open(context.Background(), "adb:"+serial, exporters.Params{})
	if err != nil {
		t.Fatal(err)
	}
	checkExport(t, d, ex.(*adbexp.Exporter))
}

func checkExport(t *testing.T, d *adbtest.Device, ex *adbexp.Exporter) {
	ctx := context.Background()
	inv, err := ex.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv != wantCounts {
		t.Errorf("inventory = %+v, want %+v", inv, wantCounts)
	}
	if ex.PhotosNotCopied() != 1 {
		t.Errorf("PhotosNotCopied after inventory = %d, want 1", ex.PhotosNotCopied())
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "snap")
	got := export(t, ex, dir)
	if got != wantCounts {
		t.Errorf("export counts = %+v, want %+v", got, wantCounts)
	}
	if ex.PhotosNotCopied() != 1 {
		t.Errorf("PhotosNotCopied = %d, want 1", ex.PhotosNotCopied())
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("SMS bodies are exact", func(t *testing.T) {
		bodies := map[string]bool{}
		var mms []mapping.Message
		for m, err := range r.Messages() {
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == "mms" {
				mms = append(mms, m)
				continue
			}
			bodies[m.Body] = true
			if m.Address != "+8613800138000" || m.Date.IsZero() || m.SubID != 1 {
				t.Errorf("sms %+v", m)
			}
		}
		for id, b := range smsBodies {
			if !bodies[b] {
				t.Errorf("sms %d body %q missing; have %q", id, b, keys(bodies))
			}
		}
		if len(mms) != 2 {
			t.Fatalf("%d MMS, want 2", len(mms))
		}
		in := mms[0]
		if in.Subject != "Photo, from=me" || in.Address != "+8613900139000" || in.Box != 1 || in.Date.Unix() != 1714550500 || len(in.Parts) != 3 || len(in.Addrs) != 2 {
			t.Fatalf("received MMS = %+v", in)
		}
		if in.Parts[2].Text != "看这张, 照片=好" {
			t.Errorf("text part = %q", in.Parts[2].Text)
		}
		img := in.Parts[1]
		if img.File == "" || !strings.HasPrefix(img.File, "messages/attachments/") {
			t.Fatalf("image part not stored: %+v", img)
		}
		f, err := r.Open(img.File)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(b, mmsJPEG) {
			t.Errorf("attachment bytes differ (%d vs %d)", len(b), len(mmsJPEG))
		}
		if mms[1].Address != "+8613700137000" || mms[1].Box != 2 {
			t.Errorf("sent MMS = %+v", mms[1])
		}
	})

	t.Run("calls", func(t *testing.T) {
		names := map[string]bool{}
		n := 0
		for c, err := range r.Calls() {
			if err != nil {
				t.Fatal(err)
			}
			names[c.Name] = true
			n++
		}
		if n != 3 || !names["Mobile, name=X"] || !names["Alice Liddell"] {
			t.Errorf("calls: %d, names %v", n, names)
		}
	})

	t.Run("contacts", func(t *testing.T) {
		byName := map[string]vcard.Card{}
		for c, err := range r.Contacts() {
			if err != nil {
				t.Fatal(err)
			}
			byName[c.Card.Value(vcard.FieldFormattedName)] = c.Card
		}
		if len(byName) != 4 {
			t.Fatalf("contacts %d: %v", len(byName), keys(byName))
		}
		a := byName["Alice Liddell"]
		if a == nil {
			t.Fatalf("Alice missing: %v", keys(byName))
		}
		if len(a[vcard.FieldTelephone]) != 2 || a.Value(vcard.FieldEmail) != "alice@example.com" || a.Value(vcard.FieldBirthday) != "1990-05-04" {
			t.Errorf("Alice = %v", a)
		}
		if a.Value(vcard.FieldNote) != "likes tea, not coffee\nsize=M, data2=3" {
			t.Errorf("note = %q", a.Value(vcard.FieldNote))
		}
		if cats := a.Categories(); len(cats) != 1 || cats[0] != "Family" {
			t.Errorf("categories = %v", cats)
		}
		if _, ok := byName["Deleted Person"]; ok {
			t.Error("deleted raw contact exported")
		}
		if byName["Bob, data1=Eve"] == nil {
			t.Errorf("ambiguous name lost: %v", keys(byName))
		}
		if w := byName["王小明"]; w == nil || w.Address() == nil || w.Address().Locality != "北京" {
			t.Errorf("王小明 = %v", w)
		}
	})

	t.Run("media byte-exact, hostile names inside the snapshot", func(t *testing.T) {
		n := 0
		renamed := map[string]bool{}
		for e, err := range r.Entries() {
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != mapping.KindMedia {
				continue
			}
			n++
			rel := strings.TrimPrefix(e.Path, "media/")
			devPath := "/storage/emulated/0/" + rel
			node := d.Files.Lookup(devPath)
			if node == nil {
				// A renamed hostile file: its bytes must be one of theirs.
				f, err := r.Open(e.Path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(f)
				f.Close()
				if !strings.HasPrefix(rel, "DCIM/Camera/") || !strings.HasPrefix(string(b), "hostile ") || renamed[string(b)] {
					t.Errorf("unexpected media %s holding %q", e.Path, b)
				}
				renamed[string(b)] = true
				continue
			}
			h := sha256.New()
			io.Copy(h, node.Open())
			if e.SHA256 != hex.EncodeToString(h.Sum(nil)) {
				t.Errorf("%s: sha256 differs from the phone's file", e.Path)
			}
		}
		if n != wantCounts.Media {
			t.Errorf("%d media entries, want %d", n, wantCounts.Media)
		}
		// Control characters, backslashes, bad UTF-8, a 324-byte name.
		if len(renamed) != 4 {
			t.Errorf("%d renamed hostile files, want 4: %v", len(renamed), keys(renamed))
		}
		// Nothing outside the snapshot folder.
		ents, _ := os.ReadDir(filepath.Dir(dir))
		if len(ents) != 1 {
			t.Errorf("files written next to the snapshot: %v", ents)
		}
		filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				t.Error(err)
				return nil
			}
			if len(de.Name()) > 255 || strings.ContainsAny(de.Name(), "\x00\x01\x1b\\") {
				t.Errorf("unsafe name written: %q", p)
			}
			return nil
		})
		if _, err := os.Stat(filepath.Join(dir, "media/DCIM/Camera/中文 照片 😀.jpg")); err != nil {
			t.Errorf("CJK name not kept: %v", err)
		}
		skipped := strings.Join(ex.Skipped(), "\n")
		if !strings.Contains(skipped, "escape.jpg") {
			t.Errorf("refused name not reported: %q", skipped)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDeniedProviderPointsToLocalBackup(t *testing.T) {
	d := samplePhone("deny")
	d.Prov.Table("content://sms").Denied = true
	ex := fakeExporter(t, d)
	w, err := snapshot.Create(t.TempDir(), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	err = ex.Export(context.Background(), w)
	if !adbexp.IsDenied(err) || !strings.Contains(err.Error(), "MIUI local backup") {
		t.Fatalf("err = %v, want a denied error pointing to the MIUI local backup", err)
	}
}

func TestProviderRefusingHexStillExact(t *testing.T) {
	d := samplePhone("nohex")
	d.Prov.Table("content://sms").Functions = false
	ex := fakeExporter(t, d)
	dir := t.TempDir()
	if got := export(t, ex, dir); got != wantCounts {
		t.Fatalf("counts = %+v", got)
	}
	r, _ := snapshot.Open(dir)
	bodies := map[string]bool{}
	for m, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		bodies[m.Body] = true
	}
	for id, b := range smsBodies {
		if b == "NULL" {
			continue // without hex() a text "NULL" reads as null; checked below
		}
		if !bodies[b] {
			t.Errorf("sms %d body %q lost without hex()", id, b)
		}
	}
}

func TestUnreadableFileIsReportedNotFatal(t *testing.T) {
	d := samplePhone("unr")
	d.Files.AddRaw("/storage/emulated/0/DCIM/Camera", "locked.jpg", &adbtest.Node{Data: []byte("x"), ModTime: mediaMod, Unreadable: true})
	ex := fakeExporter(t, d)
	got := export(t, ex, t.TempDir())
	if got.Media != wantCounts.Media {
		t.Errorf("media = %d, want %d", got.Media, wantCounts.Media)
	}
	if s := strings.Join(ex.Skipped(), "\n"); !strings.Contains(s, "locked.jpg: Permission denied") {
		t.Errorf("skipped = %q", s)
	}
}

func TestDevicesListsModelAndMIUI(t *testing.T) {
	a := samplePhone("ready")
	b := adbtest.NewDevice("locked")
	b.State = "unauthorized"
	srv := adbtest.NewServer(t, a, b)
	devs, err := adbexp.ListDevices(context.Background(), &adb.Client{Addr: srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].Model != "Redmi Note 12" || devs[0].OS != "MIUI V140" || devs[0].Android != "13" {
		t.Fatalf("devices = %+v", devs)
	}
	if devs[1].State != "unauthorized" || !strings.Contains(devs[1].Problem, "accept") {
		t.Errorf("unauthorized device = %+v", devs[1])
	}
}

func TestSeveralPhonesNeedASerial(t *testing.T) {
	srv := adbtest.NewServer(t, samplePhone("one"), samplePhone("two"))
	t.Setenv("ADB_SERVER_SOCKET", "tcp:"+srv.Addr)
	_, err := exporters.Open(context.Background(), "adb", exporters.Params{})
	if !errors.Is(err, adb.ErrSeveralDevices) || !strings.Contains(err.Error(), "adb:one") {
		t.Fatalf("err = %v", err)
	}
	ex, err := exporters.Open(context.Background(), "adb:two", exporters.Params{})
	if err != nil || ex.Name() != "two" {
		t.Fatalf("adb:two = %v, %v", ex, err)
	}
}

func TestConformance(t *testing.T) {
	d := samplePhone("conf")
	srv := adbtest.NewServer(t, d)
	want := wantCounts
	exportertest.Run(t, exportertest.Harness{
		New: func(t *testing.T) exporters.Exporter {
			ex, err := adbexp.Open(context.Background(), &adb.Client{Addr: srv.Addr}, "conf", adbexp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return ex
		},
		Want: &want,
	})
}

func TestConformanceThroughRealADBServer(t *testing.T) {
	real := adbtest.StartRealServer(t)
	d := samplePhone("")
	serial := real.Connect(t, d.Listen(t))
	want := wantCounts
	exportertest.Run(t, exportertest.Harness{
		New: func(t *testing.T) exporters.Exporter {
			ex, err := adbexp.Open(context.Background(), &adb.Client{Addr: real.Addr}, serial, adbexp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return ex
		},
		Want: &want,
	})
}

func TestOldPhoneWithoutShellV2(t *testing.T) {
	d := samplePhone("old")
	d.Features = []string{"cmd"}
	ex := fakeExporter(t, d)
	dir := t.TempDir()
	if got := export(t, ex, dir); got != wantCounts {
		t.Fatalf("counts = %+v, want %+v", got, wantCounts)
	}
	r, _ := snapshot.Open(dir)
	for m, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Parts {
			if p.File == "" {
				continue
			}
			f, _ := r.Open(p.File)
			b, _ := io.ReadAll(f)
			f.Close()
			if !bytes.Equal(b, mmsJPEG) {
				t.Errorf("attachment over exec: differs")
			}
		}
	}
}

func TestExportStopsWhenContextEnds(t *testing.T) {
	d := samplePhone("cancel")
	d.Files.AddGenerated("/storage/emulated/0/Movies/huge.mp4", 1<<30, 5, mediaMod)
	ex := fakeExporter(t, d)
	w, err := snapshot.Create(t.TempDir(), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ex.Export(ctx, w) }()
	// Cancel once the big file is being pulled.
	for d.Opened.Load() < 20 && len(done) == 0 {
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestManyMMSKeepTheirOrderAndBytes(t *testing.T) {
	d := samplePhone("many")
	mms := d.Prov.Table("content://mms")
	parts := d.Prov.Table("content://mms/part")
	addrs := d.Prov.Table("content://mms/addr")
	const n = 40
	for i := int64(0); i < n; i++ {
		id := 1000 + i
		mms.Rows = append(mms.Rows, []any{id, int64(3), int64(1714560000) + i, int64(0), int64(1), int64(1), int64(132), int64(1), int64(0), nil, nil})
		parts.Rows = append(parts.Rows, []any{5000 + i, id, int64(0), nil, "image/png", nil, nil, "p.png", nil, "/data/PART"})
		d.Prov.SetFile(fmt.Sprintf("content://mms/part/%d", 5000+i), []byte(fmt.Sprintf("\x89PNG part %d", i)))
		addrs.Rows = append(addrs.Rows, []any{9000 + i, id, int64(137), int64(106), fmt.Sprintf("+1555%04d", i)})
	}
	dir := t.TempDir()
	export(t, fakeExporter(t, d), dir)
	r, _ := snapshot.Open(dir)
	i := 0
	for m, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		if m.ThreadID != 3 {
			continue
		}
		if m.Address != fmt.Sprintf("+1555%04d", i) || len(m.Parts) != 1 {
			t.Fatalf("message %d = %+v (out of order?)", i, m)
		}
		f, err := r.Open(m.Parts[0].File)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != fmt.Sprintf("\x89PNG part %d", i) {
			t.Errorf("message %d attachment = %q", i, b)
		}
		i++
	}
	if i != n {
		t.Errorf("%d messages, want %d", i, n)
	}
}

func TestContactPhotosMergedFromVCFOnPhone(t *testing.T) {
	d := samplePhone("vcf")
	photo := bytes.Repeat([]byte("\xff\xd8\xff\xe0 alice face "), 50)
	b64 := base64.StdEncoding.EncodeToString(photo)
	vcf := "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Alice Liddell\r\nTEL;CELL:+86 138 0013 8000\r\nPHOTO;ENCODING=BASE64;JPEG:" + b64 + "\r\n\r\nEND:VCARD\r\n"
	d.Files.Add("/storage/emulated/0/Download/contacts.vcf", []byte(vcf), mediaMod)
	ex := fakeExporter(t, d)
	dir := t.TempDir()
	export(t, ex, dir)
	if ex.PhotosNotCopied() != 0 {
		t.Errorf("PhotosNotCopied = %d, want 0 once the .vcf filled it", ex.PhotosNotCopied())
	}
	r, _ := snapshot.Open(dir)
	for c, err := range r.Contacts() {
		if err != nil {
			t.Fatal(err)
		}
		if c.Card.Value(vcard.FieldFormattedName) != "Alice Liddell" {
			if c.Card.Get(vcard.FieldPhoto) != nil {
				t.Errorf("photo given to %s", c.Card.Value(vcard.FieldFormattedName))
			}
			continue
		}
		v := c.Card.Value(vcard.FieldPhoto)
		_, data, _ := strings.Cut(v, "base64,")
		got, err := base64.StdEncoding.DecodeString(data)
		if err != nil || !bytes.Equal(got, photo) {
			t.Errorf("Alice's photo = %.60q (%v)", v, err)
		}
	}
}
