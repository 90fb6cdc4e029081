package micloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/micloudtest"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func noSleep(context.Context, time.Duration) error { return nil }

func startFake(t *testing.T, d micloudtest.Data, opt micloudtest.Options) *micloudtest.Server {
	t.Helper()
	srv := micloudtest.New(d, opt)
	t.Cleanup(srv.Close)
	return srv
}

func testConfig(srv *micloudtest.Server) Config {
	return Config{
		Credentials: Credentials{UserID: srv.UserID(), PassToken: srv.PassToken(), Endpoint: srv.API.URL, DeviceID: "wb_0f3c2a8e-1111-4222-8333-444455556666"},
		MinInterval: -1,
		PageSize:    3,
		Retry:       retry.Policy{Attempts: 12, Sleep: noSleep},
	}
}

func newExporter(t *testing.T, cfg Config) *Exporter {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func runExport(t testing.TB, e *Exporter, dir string) {
	t.Helper()
	ctx := context.Background()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "micloud:"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, w); err != nil {
		w.Abort()
		t.Fatalf("export: %v", err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func entries(t *testing.T, dir string) []mapping.Entry {
	t.Helper()
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []mapping.Entry
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func sum256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func wantCounts(d micloudtest.Data) (mapping.Counts, CloudCounts) {
	live := 0
	for _, p := range d.Photos {
		if !p.Deleted {
			live++
		}
	}
	cc := CloudCounts{Gallery: len(d.Photos), Recordings: len(d.Recordings)}
	for _, n := range d.Notes {
		cc.NoteImages += len(n.Images)
	}
	for _, th := range d.Threads {
		cc.CloudMessages += th.Total
		cc.CloudMessageThreads++
	}
	return mapping.Counts{Contacts: len(d.Contacts), Notes: len(d.Notes), Media: live + len(d.Recordings)}, cc
}

func TestInventoryIsExact(t *testing.T) {
	d := micloudtest.Sample(false)
	srv := startFake(t, d, micloudtest.Options{})
	e := newExporter(t, testConfig(srv))
	got, err := e.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, wantCC := wantCounts(d)
	if got != want {
		t.Errorf("inventory = %+v, want %+v", got, want)
	}
	cc, err := e.CloudCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cc != wantCC {
		t.Errorf("cloud counts = %+v, want %+v", cc, wantCC)
	}
	var ex interface {
		ExtraCounts(context.Context) (map[string]int, error)
	} = e
	m, err := ex.ExtraCounts(context.Background())
	if err != nil || m["recordings"] != len(d.Recordings) || m["cloud_messages"] != 50 || m["cloud_message_threads"] != 3 {
		t.Errorf("extra counts %v (%v)", m, err)
	}
	if srv.Downloads() != 0 || srv.Count("storage") != 0 || srv.Count("note") != 0 {
		t.Errorf("inventory downloaded: %s", srv.SortedCounts())
	}
	t.Logf("inventory requests: %d (%s)", srv.Requests(), srv.SortedCounts())
}

// checkExport asserts the snapshot in dir holds every item of d exactly.
func checkExport(t *testing.T, d micloudtest.Data, dir string) {
	t.Helper()
	es := entries(t, dir)
	bySum := map[string]mapping.Entry{}
	counts := map[mapping.Kind]int{}
	for _, e := range es {
		counts[e.Kind]++
		if e.Kind == mapping.KindMedia {
			bySum[e.SHA256] = e
		}
	}
	for _, p := range d.Photos {
		e, ok := bySum[sum256(p.Data)]
		if p.Deleted {
			if ok {
				t.Errorf("deleted item %s was exported", p.FileName)
			}
			continue
		}
		if !ok {
			t.Errorf("photo %d %q missing from the snapshot", p.ID, p.FileName)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err != nil || !bytes.Equal(b, p.Data) {
			t.Errorf("%s: bytes differ (err %v)", e.Path, err)
		}
		want := time.UnixMilli(p.DateTaken).UTC()
		if !e.Taken.Equal(want) || !e.Modified.Equal(want) {
			t.Errorf("%s: taken %v modified %v, want %v", e.Path, e.Taken, e.Modified, want)
		}
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(e.Path))); err != nil || !st.ModTime().Equal(want) {
			t.Errorf("%s: file mtime wrong (%v)", e.Path, err)
		}
	}
	for _, r := range d.Recordings {
		e, ok := bySum[sum256(r.Data)]
		if !ok {
			t.Errorf("recording %q missing", r.Name)
			continue
		}
		if !e.Modified.Equal(time.UnixMilli(r.Created)) {
			t.Errorf("recording %s: date %v", e.Path, e.Modified)
		}
	}
	for _, p := range []string{
		"media/Camera/IMG_20240301_120000.jpg",
		"media/Screenshots/IMG_20240301_120000.jpg",
		"media/Private/secret.jpg",
		"media/Trip_.._.._etc 旅行/海边.jpg",
		"media/Recordings/Recording 001.mp3",
		"media/Recordings/Recording 001 (7005).mp3",
		"media/Recordings/Call 13800138000 (13800138000)_20240301120000.mp3",
		"media/Recordings/FM 97.4.aac",
		"media/Recordings/odd name without suffix.m4a",
	} {
		if !slices.ContainsFunc(es, func(e mapping.Entry) bool { return e.Path == p }) {
			t.Errorf("no entry at %s", p)
		}
	}
	// Nothing escaped: every file under the snapshot root, none elsewhere.
	filepath.WalkDir(filepath.Dir(dir), func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Errorf("file written outside the snapshot: %s", p)
		}
		return nil
	})
	if counts[mapping.KindNote] != len(d.Notes) || counts[mapping.KindContact] != len(d.Contacts) {
		t.Errorf("notes %d contacts %d, want %d %d", counts[mapping.KindNote], counts[mapping.KindContact], len(d.Notes), len(d.Contacts))
	}
	// Notes: text converted, images next to them and linked.
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Error(err)
		}
		return string(b)
	}
	shop := read("notes/Shopping.md")
	for _, want := range []string{"# Shopping", "**Groceries**", "- [x] milk", "- [ ] eggs & bread", "- apples", "Created: 2024-03-01T12:00:00Z"} {
		if !strings.Contains(shop, want) {
			t.Errorf("Shopping.md lacks %q:\n%s", want, shop)
		}
	}
	meet := read("notes/Work/Meeting.md")
	for _, want := range []string{"Agenda with *photos*:", "![](../_files/1234567.Abc_Def-123.jpg)", "![](../_files/1234567.Xyz_987.png)", "1. first", "2. second"} {
		if !strings.Contains(meet, want) {
			t.Errorf("Meeting.md lacks %q:\n%s", want, meet)
		}
	}
	if !strings.Contains(read("notes/Work/Meeting (2).md"), "a second note with the same title") {
		t.Error("second Meeting note missing")
	}
	if got := read("notes/folder_Private/untitled note line one.md"); !strings.Contains(got, "~~struck~~") {
		t.Errorf("untitled note:\n%s", got)
	}
	for _, im := range d.Notes[1].Images {
		ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png"}[im.MIME]
		if b := read("notes/_files/" + im.FileID + ext); b != string(im.Data) {
			t.Errorf("note image %s differs", im.FileID)
		}
	}
	// Contacts.
	r, _ := snapshot.Open(dir)
	var names []string
	var vcf string
	for c, err := range r.Contacts() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, c.Card.Value("FN"))
	}
	vcf = read(snapshot.ContactsPath)
	slices.Sort(names)
	if want := []string{"Alice Smith", "Bob", "Carol Jones", "Dave, Jr.", "张伟"}; !slices.Equal(names, want) {
		t.Errorf("contacts %q, want %q", names, want)
	}
	for _, want := range []string{"TEL;TYPE=cell:+86 138 0013 8000", "EMAIL;TYPE=home:zhang@example.com", "ORG:Acme", "TITLE:Engineer", "BDAY:1990-05-06", "CATEGORIES:Family", "NOTE:likes tea", "1 Road\\, Beijing", "IMPP;TYPE=qq:qq:10001"} {
		if !strings.Contains(vcf, want) {
			t.Errorf("contacts.vcf lacks %q", want)
		}
	}
}

func TestExportWritesEverything(t *testing.T) {
	d := micloudtest.Sample(false)
	srv := startFake(t, d, micloudtest.Options{})
	e := newExporter(t, testConfig(srv))
	dir := filepath.Join(t.TempDir(), "snap")
	runExport(t, e, dir)
	checkExport(t, d, dir)
	if rep := e.LastReport(); rep.Cloud.CloudMessages != 50 || len(rep.UnknownRecordings) != 2 {
		t.Errorf("report %+v", rep)
	}
	t.Logf("first export requests: %d (%s)", srv.Requests(), srv.SortedCounts())
}

func TestRerunDownloadsNothing(t *testing.T) {
	d := micloudtest.Sample(false)
	srv := startFake(t, d, micloudtest.Options{})
	dir := filepath.Join(t.TempDir(), "snap")
	cfg := testConfig(srv)
	cfg.CacheDir = filepath.Join(t.TempDir(), "state")
	runExport(t, newExporter(t, cfg), dir)
	first := entries(t, dir)
	srv.ResetCounts()
	runExport(t, newExporter(t, cfg), dir)
	if n := srv.Downloads(); n != 0 {
		t.Errorf("re-run downloaded %d files (%s)", n, srv.SortedCounts())
	}
	for _, route := range []string{"storage", "recstorage", "jsonp", "file", "note"} {
		if n := srv.Count(route); n != 0 {
			t.Errorf("re-run called %s %d times", route, n)
		}
	}
	if second := entries(t, dir); !slices.Equal(first, second) {
		t.Errorf("re-run changed the manifest")
	}
	checkExport(t, d, dir)
	t.Logf("re-run requests: %d (%s)", srv.Requests(), srv.SortedCounts())

	// A note edited since is fetched again, and only that one.
	srv.EditNote(40001, "<text indent=\"1\">bought everything</text>", micloudtest.Base+99000)
	srv.ResetCounts()
	runExport(t, newExporter(t, cfg), dir)
	if n := srv.Count("note"); n != 1 {
		t.Errorf("after one edit, %d notes fetched", n)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes", "Shopping.md")); !strings.Contains(string(b), "bought everything") {
		t.Errorf("edited note not updated:\n%s", b)
	}
}

func TestServiceTokenDyingMidRunIsReplaced(t *testing.T) {
	d := micloudtest.Sample(false)
	srv := startFake(t, d, micloudtest.Options{TokenLife: 7})
	e := newExporter(t, testConfig(srv))
	dir := filepath.Join(t.TempDir(), "snap")
	runExport(t, e, dir)
	checkExport(t, d, dir)
	if srv.TokensIssued() < 5 || e.Logins() != srv.TokensIssued() {
		t.Errorf("tokens issued %d, logins %d: the token should have died and been replaced several times", srv.TokensIssued(), e.Logins())
	}
	if srv.Count("401") == 0 {
		t.Error("the fake never refused a token")
	}
	t.Logf("export with 7-request tokens: %d requests, %d logins (%s)", srv.Requests(), e.Logins(), srv.SortedCounts())
}

func TestInjectedFailuresChangeNothing(t *testing.T) {
	d := micloudtest.Sample(false)
	clean := startFake(t, d, micloudtest.Options{})
	want := filepath.Join(t.TempDir(), "clean")
	runExport(t, newExporter(t, testConfig(clean)), want)

	flaky := startFake(t, d, micloudtest.Options{FailRate: 0.10, ResetRate: 0.02, Seed: 42, TokenLife: 20})
	cfg := testConfig(flaky)
	cfg.Concurrency = 3
	got := filepath.Join(t.TempDir(), "flaky")
	runExport(t, newExporter(t, cfg), got)
	if flaky.Count("503") == 0 {
		t.Fatal("no 503 was injected")
	}
	if n := flaky.MaxConcurrentDownloads(); n > 3 {
		t.Errorf("%d downloads at once, limit 3", n)
	}
	norm := func(es []mapping.Entry) []mapping.Entry {
		for i := range es {
			if es[i].Kind == mapping.KindFile {
				es[i].Modified = time.Time{} // documents get the time they were written
			}
		}
		return es
	}
	if a, b := norm(entries(t, want)), norm(entries(t, got)); !slices.Equal(a, b) {
		t.Errorf("manifest differs with injected failures:\n%v\n%v", a, b)
	}
	checkExport(t, d, got)
	t.Logf("export with 10%% 503s and 2%% resets: %d requests (%s)", flaky.Requests(), flaky.SortedCounts())
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  micloudtest.Options
		pass string
		want error
		says string
	}{
		{"wrong passToken", micloudtest.Options{}, "V1:wrong", ErrPassTokenRefused, "miexit auth micloud"},
		{"second verification demanded", micloudtest.Options{SecondValidation: true}, "", ErrSecondValidation, "trust this device"},
		{"end-to-end encrypted account", micloudtest.Options{Encrypted: true}, "", ErrEncrypted, "end-to-end encryption"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, micloudtest.Sample(false), tc.opt)
			cfg := testConfig(srv)
			if tc.pass != "" {
				cfg.Credentials.PassToken = tc.pass
			}
			_, err := newExporter(t, cfg).Inventory(context.Background())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), cfg.Credentials.PassToken) {
				t.Error("the error shows the passToken")
			}
			// A refusal is not retried: it stops at once.
			if srv.Requests() > 8 {
				t.Errorf("%d requests for a refusal", srv.Requests())
			}
		})
	}
}

func TestDeletedItemIsReportedNotFatal(t *testing.T) {
	d := micloudtest.Sample(true)
	srv := startFake(t, d, micloudtest.Options{})
	e := newExporter(t, testConfig(srv))
	dir := filepath.Join(t.TempDir(), "snap")
	runExport(t, e, dir)
	checkExport(t, d, dir)
	if rep := e.LastReport(); !slices.Equal(rep.Deleted, []string{"Camera/IMG_gone.jpg"}) {
		t.Errorf("deleted = %q", rep.Deleted)
	}
}

func TestUnexpectedShapeFailsLoudly(t *testing.T) {
	for _, tc := range []struct{ name, path, body, says string }{
		{"albums missing", "/gallery/user/album/list", `{"result":"ok","code":0,"data":{"list":[]}}`, "gallery album list"},
		{"not JSON", "/gallery/user/album/list", `<html>maintenance</html>`, "gallery album list"},
		{"no envelope", "/contacts/initdata", `{"foo":1}`, "contacts list"},
		{"notes lastPage missing", "/note/full/page/", `{"result":"ok","code":0,"data":{"entries":[]}}`, "data.lastPage"},
		{"recordings wrong type", "/sfs/ns/recorder/dir/0/list", `{"result":"ok","code":0,"data":{"list":{"a":1}}}`, "recordings list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, micloudtest.Sample(false), micloudtest.Options{Replace: map[string]string{tc.path: tc.body}})
			_, err := newExporter(t, testConfig(srv)).Inventory(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "Mi Cloud may have changed") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestDebugHTTPHidesSecrets(t *testing.T) {
	srv := startFake(t, micloudtest.Sample(false), micloudtest.Options{TokenLife: 4})
	var buf bytes.Buffer
	cfg := testConfig(srv)
	cfg.DebugHTTP = true
	cfg.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newExporter(t, cfg)
	runExport(t, e, filepath.Join(t.TempDir(), "snap"))
	out := buf.String()
	if !strings.Contains(out, "/gallery/user/album/list") || !strings.Contains(out, "/sts") {
		t.Fatalf("debug log lacks requests:\n%.2000s", out)
	}
	if !strings.Contains(out, "albums:[3]{albumId:") {
		t.Errorf("debug log lacks the response shapes")
	}
	for _, secret := range []string{srv.PassToken(), "svc-", "AUTH-TICKET", "meta-gallery", "NONCE", "zhang@example.com", "Groceries"} {
		if strings.Contains(out, secret) {
			t.Errorf("debug log shows %q", secret)
		}
	}
}

func TestExportHonoursCancel(t *testing.T) {
	srv := startFake(t, micloudtest.Sample(false), micloudtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err := snapshot.Create(filepath.Join(t.TempDir(), "snap"), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := newExporter(t, testConfig(srv)).Export(ctx, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingNoteImageIsReportedNotFatal(t *testing.T) {
	d := micloudtest.Sample(false)
	d.Notes[1].Images[1].Data = nil
	srv := startFake(t, d, micloudtest.Options{})
	e := newExporter(t, testConfig(srv))
	dir := filepath.Join(t.TempDir(), "snap")
	runExport(t, e, dir)
	if rep := e.LastReport(); !slices.Equal(rep.MissingNoteFiles, []string{"notes/_files/1234567.Xyz_987.png"}) {
		t.Errorf("missing = %q", rep.MissingNoteFiles)
	}
	b, err := os.ReadFile(filepath.Join(dir, "notes", "Work", "Meeting.md"))
	if err != nil || !strings.Contains(string(b), "[image 1234567.Xyz_987 not downloaded]") || !strings.Contains(string(b), "![](../_files/1234567.Abc_Def-123.jpg)") {
		t.Errorf("note body:\n%s (%v)", b, err)
	}
}

func TestRunKilledBeforeItsManifestDownloadsNothingAgain(t *testing.T) {
	d := micloudtest.Sample(false)
	srv := startFake(t, d, micloudtest.Options{})
	dir := filepath.Join(t.TempDir(), "snap")
	runExport(t, newExporter(t, testConfig(srv)), dir)
	// A run killed after copying every file but before Commit leaves the
	// files without a manifest.
	if err := os.Remove(filepath.Join(dir, snapshot.ManifestPath)); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	runExport(t, newExporter(t, testConfig(srv)), dir)
	if n := srv.Downloads(); n != 0 {
		t.Errorf("re-run after a kill downloaded %d files (%s)", n, srv.SortedCounts())
	}
	checkExport(t, d, dir)
}
