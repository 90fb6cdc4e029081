package onedrive

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"golang.org/x/oauth2"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/graph"
	"github.com/miexit/miexit/internal/graphtest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/quickxorhash"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// sleeps records the waits the retry policy asked for, without waiting.
type sleeps struct {
	mu  sync.Mutex
	max time.Duration
	n   int
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.n++
	s.max = max(s.max, d)
	s.mu.Unlock()
	return ctx.Err()
}

type env struct {
	fake   *graphtest.Server
	sleeps *sleeps
	tr     http.RoundTripper
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake := graphtest.NewServer(graphtest.Options{PageSize: 7})
	t.Cleanup(fake.Close)
	return &env{fake: fake, sleeps: &sleeps{}}
}

// importer builds an importer as a new process would: a new client on the
// same fake.
func (e *env) importer(t *testing.T, arg string) *Importer {
	t.Helper()
	c := graph.New(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.fake.Token()}), graph.Options{
		Endpoint: e.fake.Endpoint(), Transport: e.tr, Retry: retry.Policy{Sleep: e.sleeps.sleep},
	})
	im, err := New(c, importers.Params{Arg: arg, SourceName: "sample", Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func openLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func bytesOf(n int, seed uint64) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

type tree struct {
	small    int
	videoLen int
}

var base = time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)

// makeSnapshot writes a generated snapshot: small photos, one large video,
// a case clash, CJK and refused characters, a note and records.
func makeSnapshot(t *testing.T, tr tree) *snapshot.Reader {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test:generated"})
	if err != nil {
		t.Fatal(err)
	}
	addMedia := func(p string, data []byte, taken time.Time) {
		t.Helper()
		m := mapping.Media{Path: p, Size: int64(len(data)), ModTime: base, Taken: taken}
		if err := w.AddMedia(ctx, m, func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range tr.small {
		addMedia(fmt.Sprintf("DCIM/Camera/IMG_%04d.jpg", i), bytesOf(100+i*37, uint64(i)), base.Add(time.Duration(i)*time.Minute))
	}
	addMedia("DCIM/Camera/VID_0001.mp4", bytesOf(tr.videoLen, 999), base.Add(48*time.Hour))
	addMedia("微信/照片 一.jpg", []byte("chinese name"), time.Time{})
	addMedia("Screenshots/what? a:b|c.png", []byte("refused characters"), time.Time{})
	addMedia("Pictures/a.jpg", []byte("upper-case folder"), time.Time{})
	addMedia("pictures/b.jpg", []byte("lower-case folder"), time.Time{})
	for _, name := range []string{"IMG_1.JPG", "img_1.jpg"} {
		if _, err := w.AddFile(ctx, "messages/attachments/"+name, strings.NewReader("attachment "+name), base); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddNote(ctx, mapping.Note{Key: "n1", Folder: "Work", Title: "Plan", Created: base, Modified: base, Body: "# Plan\n"}); err != nil {
		t.Fatal(err)
	}
	card := vcard.Card{}
	card.SetValue(vcard.FieldFormattedName, "李雷")
	card.SetValue(vcard.FieldTelephone, "+86 138 0013 8000")
	if err := w.AddContact(ctx, mapping.Contact{Key: "c1", Card: card}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddMessage(ctx, mapping.Message{Type: "sms", Box: 1, Address: "10086", Date: base, Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddCall(ctx, mapping.Call{Number: "10086", Date: base, Duration: 5, Type: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func qxhOf(t *testing.T, snap *snapshot.Reader, rel string) string {
	t.Helper()
	f, err := snap.Open(rel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := quickxorhash.New()
	io.Copy(h, f)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// checkVerify lists every kind and compares with the manifest, as verify
// does: each entry present, with the same hash.
func checkVerify(t *testing.T, im *Importer, snap *snapshot.Reader) {
	t.Helper()
	ctx := context.Background()
	got := map[string]mapping.Remote{}
	for _, k := range mapping.Kinds {
		for r, err := range im.List(ctx, k) {
			if err != nil {
				t.Fatalf("List(%s): %v", k, err)
			}
			id := string(k) + " " + r.Path
			if !snapshot.WholeFile(k) {
				id = string(k) + " " + r.Key
			}
			if _, dup := got[id]; dup {
				t.Errorf("List(%s) yields %s twice", k, id)
			}
			got[id] = r
		}
	}
	n := 0
	for e, err := range snap.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if snapshot.WholeFile(e.Kind) {
			r, ok := got[string(e.Kind)+" "+e.Path]
			if !ok {
				t.Errorf("%s %s missing from List", e.Kind, e.Path)
				continue
			}
			if want := qxhOf(t, snap, e.Path); r.Hash != want || r.Size != e.Size {
				t.Errorf("%s: listed %d bytes %s, want %d bytes %s", e.Path, r.Size, r.Hash, e.Size, want)
			}
			continue
		}
		r, ok := got[string(e.Kind)+" "+e.Key]
		if !ok {
			t.Errorf("%s %s missing from List", e.Kind, e.Key)
			continue
		}
		if r.SHA256 != e.SHA256 {
			t.Errorf("%s %s: sha256 %s, want %s", e.Kind, e.Key, r.SHA256, e.SHA256)
		}
	}
	if len(got) != n {
		t.Errorf("List yields %d items, the manifest has %d", len(got), n)
	}
}

// state is what the fake holds, for comparing runs.
func state(fake *graphtest.Server) []string {
	var out []string
	for _, f := range fake.Files() {
		out = append(out, fmt.Sprintf("%s %s %s", f.Path, f.QuickXorHash, f.Modified.UTC().Format(time.RFC3339)))
	}
	sort.Strings(out)
	return out
}

func TestGeneratedTreeMigratesAndRerunWritesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	video := 20_000_000
	if testing.Short() {
		video = 5_000_000
	}
	snap := makeSnapshot(t, tree{small: 300, videoLen: video})
	led := openLedger(t)
	im := e.importer(t, "")
	var tally progress.Tally
	if err := im.Import(ctx, snap, led, &tally); err != nil {
		t.Fatal(err)
	}
	first := e.fake.Counts()
	t.Logf("first import requests: %v (total %d, writes %d)", first, e.fake.Count(""), e.fake.Writes())

	// Every file with its hash and date.
	files := map[string]graphtest.FileInfo{}
	for _, f := range e.fake.Files() {
		files[strings.ToLower(f.Path)] = f
	}
	nm := newNamer()
	var entries []mapping.Entry
	for ent, err := range snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, ent)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	for _, ent := range entries {
		remote, _ := nm.assign(ent.Path)
		f, ok := files[strings.ToLower("/Apps/miexit/sample/"+remote)]
		if !ok {
			t.Errorf("%s not stored (expected at %s)", ent.Path, remote)
			continue
		}
		if want := qxhOf(t, snap, ent.Path); f.QuickXorHash != want {
			t.Errorf("%s: stored quickXorHash %s, want %s", ent.Path, f.QuickXorHash, want)
		}
		if want := fileDate(ent).Truncate(time.Second); !f.Modified.Equal(want) {
			t.Errorf("%s: stored date %s, want %s", ent.Path, f.Modified, want)
		}
	}
	if n := len(e.fake.Files()); n != len(entries) {
		t.Errorf("fake holds %d files, the snapshot %d", n, len(entries))
	}
	for _, p := range []string{"/Apps/miexit/sample/messages/attachments/IMG_1.JPG", "/Apps/miexit/sample/messages/attachments/img_1‛2.jpg", "/Apps/miexit/sample/media/微信/照片 一.jpg", "/Apps/miexit/sample/media/Screenshots/what？ a：b｜c.png"} {
		if _, ok := e.fake.File(p); !ok {
			t.Errorf("%s not stored", p)
		}
	}
	if frags := (video + FragmentSize - 1) / FragmentSize; first["create-session"] != 1 || first["fragment"] != frags {
		t.Errorf("the video should go through one session in %d fragments of 10 MiB; got %d sessions, %d fragments", frags, first["create-session"], first["fragment"])
	}
	if first["unauthorized"] != 0 {
		t.Errorf("%d requests were refused for their token", first["unauthorized"])
	}
	if n := tally.Count("import", "", progress.Copied); n != len(entries) {
		t.Errorf("%d copied events, want %d", n, len(entries))
	}
	checkVerify(t, im, snap)

	// A second run, with the ledger: one request, the account lookup
	// that says whose ledger records to trust.
	before, writes, drive := e.fake.Count(""), e.fake.Writes(), e.fake.Count("drive")
	if err := e.importer(t, "").Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	if d, dd := e.fake.Count("")-before, e.fake.Count("drive")-drive; d != 1 || dd != 1 {
		t.Errorf("re-run with the ledger sent %d requests (%d GET /me/drive); want only the one account lookup", d, dd)
	}
	// A run that lost the ledger checks the destination and writes nothing.
	before = e.fake.Count("")
	var tally2 progress.Tally
	if err := e.importer(t, "").Import(ctx, snap, openLedger(t), &tally2); err != nil {
		t.Fatal(err)
	}
	t.Logf("re-run without ledger: %d requests (%v)", e.fake.Count("")-before, e.fake.Counts())
	if e.fake.Writes() != writes {
		t.Errorf("re-run without ledger wrote %d times", e.fake.Writes()-writes)
	}
	if n := tally2.Count("import", "", progress.Unchanged); n != len(entries) {
		t.Errorf("%d unchanged events, want %d", n, len(entries))
	}
}

func TestInjectedFaultsChangeNothing(t *testing.T) {
	ctx := context.Background()
	snap := makeSnapshot(t, tree{small: 40, videoLen: 6 << 20})
	run := func(rate float64) (*env, []string) {
		e := newEnv(t)
		e.fake.SetFaults(rate, "41")
		im := e.importer(t, "onedrive:/Backups/Phone")
		im.smallMax, im.fragSize = 1<<20, 3*graph.FragmentUnit
		var err error
		for range 3 { // a file may exhaust its attempts; a re-run finishes
			if err = im.Import(ctx, snap, openLedger(t), nil); err == nil {
				break
			}
			t.Logf("run with faults failed, re-running: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		e.fake.SetFaults(0, "41")
		checkVerify(t, im, snap)
		return e, state(e.fake)
	}
	_, want := run(0)
	e, got := run(0.10)
	t.Logf("with 10%% faults: %d faults in %d requests (%v)", e.fake.Count("fault"), e.fake.Count(""), e.fake.Counts())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("faults changed the result:\n got %q\nwant %q", got, want)
	}
	if e.fake.Count("fault") == 0 {
		t.Fatal("no fault was injected")
	}
	if e.sleeps.max < 40*time.Second || e.sleeps.max > 41*time.Second {
		t.Errorf("longest pause %s, want the server's Retry-After of 41s", e.sleeps.max)
	}
}

// cancelAfter cancels a context once n fragments were accepted.
type cancelAfter struct {
	n      int32
	done   atomic.Int32
	cancel context.CancelFunc
}

func (c *cancelAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/upload/") && resp.StatusCode == http.StatusAccepted {
		if c.done.Add(1) == c.n {
			c.cancel()
		}
	}
	return resp, err
}

func TestCrashDuringSessionResumesFromNextExpectedRange(t *testing.T) {
	snap := makeSnapshot(t, tree{small: 0, videoLen: 8 << 20})
	e := newEnv(t)
	led := openLedger(t)
	ctx, cancel := context.WithCancel(context.Background())
	e.tr = &cancelAfter{n: 3, cancel: cancel}
	im := e.importer(t, "")
	im.smallMax, im.fragSize = 1<<20, 3*graph.FragmentUnit
	if err := im.Import(ctx, snap, led, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
	sent := e.fake.Count("fragment")
	e.tr = nil
	im = e.importer(t, "")
	im.smallMax, im.fragSize = 1<<20, 3*graph.FragmentUnit
	if err := im.Import(context.Background(), snap, led, nil); err != nil {
		t.Fatal(err)
	}
	total := (8<<20 + 3*graph.FragmentUnit - 1) / (3 * graph.FragmentUnit)
	if e.fake.Count("create-session") != 1 {
		t.Errorf("%d sessions created, want 1 (resumed)", e.fake.Count("create-session"))
	}
	if e.fake.Count("session-status") < 1 {
		t.Error("the resumed upload did not ask the session where it stands")
	}
	if got := e.fake.Count("fragment"); got > total+1 {
		t.Errorf("%d fragments in all (%d before the crash); a resumed upload needs at most %d", got, sent, total+1)
	}
	checkVerify(t, im, snap)
}

func TestDeletedAndChangedFilesAreFoundAndRepaired(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	snap := makeSnapshot(t, tree{small: 3, videoLen: 10})
	led := openLedger(t)
	im := e.importer(t, "")
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	e.fake.Remove("/Apps/miexit/sample/media/DCIM/Camera/IMG_0000.jpg")
	e.fake.Corrupt("/Apps/miexit/sample/media/DCIM/Camera/IMG_0001.jpg")
	found := map[string]string{}
	for r, err := range im.List(ctx, mapping.KindMedia) {
		if err != nil {
			t.Fatal(err)
		}
		found[r.Path] = r.Hash
	}
	if _, ok := found["media/DCIM/Camera/IMG_0000.jpg"]; ok {
		t.Error("a deleted file is still listed")
	}
	if found["media/DCIM/Camera/IMG_0001.jpg"] == qxhOf(t, snap, "media/DCIM/Camera/IMG_0001.jpg") {
		t.Error("a changed file lists the original hash")
	}
	// verify forgets what it found wrong; the next import repairs it.
	dest, err := im.ledgerKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	led.Delete(dest, "media/DCIM/Camera/IMG_0000.jpg")
	led.Delete(dest, "media/DCIM/Camera/IMG_0001.jpg")
	if err := im.Import(ctx, snap, led, nil); err != nil {
		t.Fatal(err)
	}
	checkVerify(t, im, snap)
	if f, _ := e.fake.File("/Apps/miexit/sample/media/DCIM/Camera/IMG_0001.jpg"); f.Versions != 1 {
		t.Errorf("the changed file should be replaced once (kept in its version history), versions %d", f.Versions)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	snap := makeSnapshot(t, tree{small: 2, videoLen: 10})
	im := e.importer(t, "")
	im.p.DryRun = true
	var tally progress.Tally
	if err := im.Import(context.Background(), snap, openLedger(t), &tally); err != nil {
		t.Fatal(err)
	}
	if e.fake.Writes() != 0 || tally.Count("import", "", progress.WouldCopy) == 0 {
		t.Errorf("dry run: %d writes, %d would-copy", e.fake.Writes(), tally.Count("import", "", progress.WouldCopy))
	}
}

func TestDestinationFolders(t *testing.T) {
	for _, tc := range []struct {
		arg, name string
		wantErr   bool
	}{
		{"", "onedrive:/Apps/miexit/sample", false},
		{"/Some/Folder", "onedrive:/Some/Folder", false},
		{"Some/Folder/", "onedrive:/Some/Folder", false},
		{"/a/../../b", "", true},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			im, err := New(graph.New(nil, graph.Options{}), importers.Params{Arg: tc.arg, SourceName: "sample"})
			if tc.wantErr {
				if !errors.Is(err, mapping.ErrBadInput) {
					t.Fatalf("got %v, want a bad-input error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if im.Name() != tc.name {
				t.Errorf("Name() = %s, want %s", im.Name(), tc.name)
			}
		})
	}
}

// A snapshot file changed after the export, same size, is not uploaded:
// OneDrive's quickXorHash would vouch for the changed bytes, so the
// manifest's sha256 is what is checked.
func TestAChangedSnapshotFileIsNotUploaded(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	snap := makeSnapshot(t, tree{small: 2, videoLen: 10})
	rel := "media/DCIM/Camera/IMG_0001.jpg"
	p, err := snap.Path(rel)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = e.importer(t, "").Import(ctx, snap, openLedger(t), nil)
	if err == nil || !strings.Contains(err.Error(), rel) || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Fatalf("err = %v, want one naming %s", err, rel)
	}
	if _, ok := e.fake.File("/Apps/miexit/sample/" + rel); ok {
		t.Errorf("the changed %s was uploaded", rel)
	}
	if _, ok := e.fake.File("/Apps/miexit/sample/media/DCIM/Camera/IMG_0000.jpg"); !ok {
		t.Error("the other photo did not land")
	}
}
