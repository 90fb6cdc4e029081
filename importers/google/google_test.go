package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"golang.org/x/oauth2"
	"google.golang.org/api/people/v1"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

var jpeg = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("fake jpeg body")...)

// noSleep keeps retries instant in tests.
var noSleep = retry.Policy{Attempts: 6, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}

type env struct {
	srv  *googletest.Server
	snap *snapshot.Reader
	led  *ledger.Ledger
	opts Options
}

func newEnv(t *testing.T, build func(w *snapshot.Writer)) *env {
	t.Helper()
	srv := googletest.New()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	w, err := snapshot.Create(filepath.Join(dir, "snap"), snapshot.Options{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	build(w)
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.Open(filepath.Join(dir, "snap"))
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: srv.Token}))
	return &env{srv: srv, snap: r, led: led, opts: Options{
		Params:             importers.Params{SourceName: "adb:TEST123", Concurrency: 3},
		Endpoint:           srv.URL,
		HTTPClient:         hc,
		Retry:              noSleep,
		ResumableThreshold: 300 << 10,
		ChunkSize:          256 << 10,
	}}
}

func (e *env) importer(t *testing.T) *Importer {
	t.Helper()
	im, err := NewWith(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func (e *env) run(t *testing.T) (*progress.Tally, error) {
	t.Helper()
	var tally progress.Tally
	err := e.importer(t).Import(context.Background(), e.snap, e.led, &tally)
	return &tally, err
}

func card(name, tel, email string) vcard.Card {
	c := vcard.Card{}
	c.SetValue(vcard.FieldFormattedName, name)
	parts := strings.SplitN(name, " ", 2)
	n := &vcard.Name{GivenName: parts[0]}
	if len(parts) > 1 {
		n.FamilyName = parts[1]
	}
	c.SetName(n)
	if tel != "" {
		c.Add(vcard.FieldTelephone, &vcard.Field{Value: tel, Params: vcard.Params{vcard.ParamType: {"cell"}}})
	}
	if email != "" {
		c.AddValue(vcard.FieldEmail, email)
	}
	return c
}

// addContacts adds n contacts; every 7th has a photo, every 5th the
// label "Family", every 11th "Work".
func addContacts(t *testing.T, w *snapshot.Writer, n int) (photos int) {
	ctx := context.Background()
	for i := range n {
		c := card(fmt.Sprintf("Person %04d", i), fmt.Sprintf("+86 138 %04d 0000", i), "")
		if i%7 == 0 {
			c.Add(vcard.FieldPhoto, &vcard.Field{Value: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(jpeg)})
			photos++
		}
		var labels []string
		if i%5 == 0 {
			labels = append(labels, "Family")
		}
		if i%11 == 0 {
			labels = append(labels, "Work")
		}
		if len(labels) > 0 {
			c.SetCategories(labels)
		}
		if i == 1 {
			c.SetValue(vcard.FieldBirthday, "1990-05-17")
			c.SetValue(vcard.FieldNote, "met at the 北京 office")
			c.SetValue("X-MIUI-RINGTONE", "bells")
		}
		if err := w.AddContact(ctx, mapping.Contact{Key: fmt.Sprintf("c%04d", i), Card: c}); err != nil {
			t.Fatal(err)
		}
	}
	return photos
}

func addFiles(t *testing.T, w *snapshot.Writer, big int) {
	ctx := context.Background()
	taken := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	add := func(p string, b []byte) {
		err := w.AddMedia(ctx, mapping.Media{Path: p, Size: int64(len(b)), ModTime: taken, Taken: taken}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	add("DCIM/Camera/IMG_0001.jpg", jpeg)
	add("DCIM/Camera/微信图片_2021.jpg", append(jpeg, 'x'))
	add("Recordings/call 1.mp3", []byte("ID3 fake mp3"))
	if big > 0 {
		b := make([]byte, big)
		for i := range b {
			b[i] = byte(i * 7)
		}
		add("DCIM/Camera/VID_big.mp4", b)
	}
	if err := w.AddMessage(ctx, mapping.Message{Type: "sms", Box: 1, Address: "+8613800000000", Date: taken, Body: "你好 hello"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddMessage(ctx, mapping.Message{Type: "sms", Box: 2, Address: "+8613800000001", Date: taken.Add(time.Hour), Body: "second"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddCall(ctx, mapping.Call{Number: "+8613800000000", Date: taken, Duration: 61, Type: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddNote(ctx, mapping.Note{Folder: "Work", Title: "Plan", Body: "- item", Modified: taken}); err != nil {
		t.Fatal(err)
	}
}

func remotes(t *testing.T, im *Importer, k mapping.Kind) map[string]mapping.Remote {
	t.Helper()
	out := map[string]mapping.Remote{}
	for r, err := range im.List(context.Background(), k) {
		if err != nil {
			t.Fatalf("List(%s): %v", k, err)
		}
		id := r.Path
		if !snapshot.WholeFile(k) {
			id = r.Key
		}
		if _, dup := out[id]; dup {
			t.Errorf("List(%s) yields %s twice", k, id)
		}
		out[id] = r
	}
	return out
}

// checkVerify compares List with the manifest, as verify does.
func checkVerify(t *testing.T, im *Importer, snap *snapshot.Reader) (missing, different []string) {
	t.Helper()
	got := map[mapping.Kind]map[string]mapping.Remote{}
	for _, k := range mapping.Kinds {
		got[k] = remotes(t, im, k)
	}
	for e, err := range snap.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		id := e.Path
		if !snapshot.WholeFile(e.Kind) {
			id = e.Key
		}
		r, ok := got[e.Kind][id]
		switch {
		case !ok:
			missing = append(missing, id)
		case r.SHA256 != e.SHA256:
			different = append(different, id)
		}
	}
	return missing, different
}

func TestImportThenVerifyThenRerunWritesNothing(t *testing.T) {
	const n = 450
	var photos int
	e := newEnv(t, func(w *snapshot.Writer) {
		photos = addContacts(t, w, n)
		addFiles(t, w, 700<<10)
	})
	tally, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	c := e.srv.Counts()
	if got, want := c[googletest.EPBatchCreate], (n+199)/200; got != want {
		t.Errorf("batchCreateContacts calls = %d, want ceil(%d/200) = %d", got, n, want)
	}
	if got := c[googletest.EPUpdatePhoto]; got != photos {
		t.Errorf("updateContactPhoto calls = %d, want %d", got, photos)
	}
	if got := c[googletest.EPGroupsCreate]; got != 2 {
		t.Errorf("contactGroups.create calls = %d, want 2 (Family, Work)", got)
	}
	if got := c[googletest.EPMembersModify]; got != 2 {
		t.Errorf("members:modify calls = %d, want 2", got)
	}
	if got := tally.Count("import", mapping.KindContact, progress.Copied); got != n {
		t.Errorf("contacts copied = %d, want %d", got, n)
	}
	t.Logf("first run: %v", c)

	// Every file is in Drive with its bytes and date.
	for ent, err := range e.snap.Files() {
		if err != nil {
			t.Fatal(err)
		}
		fs := e.srv.FindFiles("miexit/adb_TEST123/" + ent.Path)
		if len(fs) != 1 {
			t.Errorf("%s: %d copies in Drive, want 1", ent.Path, len(fs))
			continue
		}
		if fs[0].SHA256 != ent.SHA256 {
			t.Errorf("%s: Drive sha256 %s, want %s", ent.Path, fs[0].SHA256, ent.SHA256)
		}
		if want := mediaTime(ent); !want.IsZero() && !fs[0].Modified.Equal(want) {
			t.Errorf("%s: modifiedTime %s, want %s", ent.Path, fs[0].Modified, want)
		}
		if fs[0].AppProperties[apSHA256] != ent.SHA256 {
			t.Errorf("%s: appProperties sha256 = %q", ent.Path, fs[0].AppProperties[apSHA256])
		}
	}
	if e.srv.Count(googletest.EPUploadChunk) < 3 {
		t.Errorf("the 700 KiB video should go up in >= 3 resumable chunks, saw %d", e.srv.Count(googletest.EPUploadChunk))
	}
	p, ok := e.srv.ContactByClientData(cdKey, "c0001")
	if !ok {
		t.Fatal("contact c0001 not found by clientData")
	}
	if len(p.Birthdays) != 1 || p.Birthdays[0].Date == nil || p.Birthdays[0].Date.Month != 5 {
		t.Errorf("birthday not mapped: %+v", p.Birthdays)
	}
	// A field Person has no home for is kept (mapping/people moves it to
	// userDefined or the note), never dropped.
	kept := false
	for _, u := range p.UserDefined {
		kept = kept || (strings.Contains(u.Key, "X-MIUI-RINGTONE") && strings.Contains(u.Value, "bells"))
	}
	for _, b := range p.Biographies {
		kept = kept || strings.Contains(b.Value, "bells")
	}
	if !kept {
		t.Errorf("unmapped X-MIUI-RINGTONE lost: userDefined %+v, biographies %+v", p.UserDefined, p.Biographies)
	}
	if p, _ := e.srv.ContactByClientData(cdKey, "c0007"); p == nil {
		t.Error("c0007 missing")
	} else if b, ok := e.srv.Photo(p.ResourceName); !ok || !bytes.Equal(b, jpeg) {
		t.Error("c0007's photo was not set")
	}

	missing, different := checkVerify(t, e.importer(t), e.snap)
	if len(missing)+len(different) > 0 {
		t.Fatalf("verify after import: missing %v, different %v", missing, different)
	}

	e.srv.ResetCounts()
	tally, err = e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Writes(); w != 0 {
		t.Errorf("second run made %d write calls: %v", w, e.srv.Counts())
	}
	if got := tally.Count("import", "", progress.Copied); got != 0 {
		t.Errorf("second run copied %d items", got)
	}
	t.Logf("second run: %v", e.srv.Counts())
}

func TestVerifyFindsDeletedAndEditedAndImportRepairs(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) {
		addContacts(t, w, 5)
		addFiles(t, w, 0)
	})
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	f := e.srv.FindFiles("miexit/adb_TEST123/media/DCIM/Camera/IMG_0001.jpg")[0]
	e.srv.DeleteFile(f.ID)
	g := e.srv.FindFiles("miexit/adb_TEST123/notes/Work/Plan.md")[0]
	e.srv.SetContent(g.ID, []byte("changed"))
	p, _ := e.srv.ContactByClientData(cdKey, "c0002")
	e.srv.EditContact(p.ResourceName, func(p *people.Person) { p.PhoneNumbers[0].Value = "+1 555 0100" })
	q, _ := e.srv.ContactByClientData(cdKey, "c0003")
	e.srv.DeleteContact(q.ResourceName)

	missing, different := checkVerify(t, e.importer(t), e.snap)
	if strings.Join(missing, ",") != "c0003,media/DCIM/Camera/IMG_0001.jpg" {
		t.Errorf("missing = %v", missing)
	}
	if strings.Join(different, ",") != "c0002,notes/Work/Plan.md" {
		t.Errorf("different = %v", different)
	}
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	missing, different = checkVerify(t, e.importer(t), e.snap)
	if len(missing)+len(different) > 0 {
		t.Errorf("after repair: missing %v, different %v", missing, different)
	}
	if n := len(e.srv.FindFiles("miexit/adb_TEST123/notes/Work/Plan.md")); n != 1 {
		t.Errorf("the corrupted note has %d copies after repair, want 1", n)
	}
}

func TestContactAlreadyThereIsLinkedNotDuplicated(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) {
		c := card("Li Wei", "138 0013 8000", "li@example.com")
		w.AddContact(context.Background(), mapping.Contact{Key: "liwei", Card: c})
		c2 := card("Li Wei", "+1 555 0199", "")
		w.AddContact(context.Background(), mapping.Contact{Key: "other-liwei", Card: c2})
	})
	e.srv.AddContact(&people.Person{
		Names:        []*people.Name{{GivenName: "Li", FamilyName: "Wei", UnstructuredName: "Li Wei"}},
		PhoneNumbers: []*people.PhoneNumber{{Value: "13800138000"}},
	})
	tally, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Contacts()); n != 2 {
		t.Errorf("account holds %d contacts, want 2 (the existing one linked, the other Li Wei created)", n)
	}
	if got := tally.Count("import", mapping.KindContact, progress.Unchanged); got != 1 {
		t.Errorf("already-there reports = %d, want 1", got)
	}
	missing, different := checkVerify(t, e.importer(t), e.snap)
	if len(missing)+len(different) > 0 {
		t.Errorf("verify: missing %v, different %v", missing, different)
	}
	e.srv.ResetCounts()
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Writes(); w != 0 {
		t.Errorf("re-run wrote %d times", w)
	}
}

func TestContactLimitCheckedBeforeWriting(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addContacts(t, w, 10) })
	e.opts.MaxContacts = 8
	e.srv.MaxContacts = 8
	_, err := e.run(t)
	if err == nil || !strings.Contains(err.Error(), "limit of 8") {
		t.Fatalf("err = %v, want the contact limit", err)
	}
	if n := e.srv.Count(googletest.EPBatchCreate); n != 0 {
		t.Errorf("created contacts %d times before refusing", n)
	}
}

func TestRetriesRateLimitsAndServerErrors(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) {
		addContacts(t, w, 3)
		addFiles(t, w, 400<<10)
	})
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPBatchCreate, Status: 429, Reason: "rateLimitExceeded", RetryAfter: "1"})
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPUploadMultipart, Status: 403, Reason: "userRateLimitExceeded", Times: 2})
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPUploadChunk, Status: 503, Reason: "backendError"})
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPFilesList, Status: 500, Reason: "backendError"})
	var slept []time.Duration
	var mu sync.Mutex
	e.opts.Retry.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Contacts()); n != 3 {
		t.Errorf("contacts = %d, want 3 (no duplicate from the retried batch)", n)
	}
	found := false
	for _, d := range slept {
		if d > 900*time.Millisecond && d <= time.Second {
			found = true
		}
	}
	if !found {
		t.Errorf("Retry-After: 1 not honoured; slept %v", slept)
	}
	missing, different := checkVerify(t, e.importer(t), e.snap)
	if len(missing)+len(different) > 0 {
		t.Errorf("verify: missing %v, different %v", missing, different)
	}
}

func TestOtherClientErrorsFailWithTheAPIMessage(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addContacts(t, w, 2) })
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPBatchCreate, Status: 400, Reason: "badRequest"})
	_, err := e.run(t)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: fake google: injected fault") {
		t.Fatalf("err = %v", err)
	}
	if got := e.srv.Count(googletest.EPBatchCreate); got != 1 {
		t.Errorf("a 400 was tried %d times, want 1", got)
	}
}

func TestResumableUploadResumesAfterACrash(t *testing.T) {
	const size = 1 << 20
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, size) })
	// The third chunk is cut after 1000 bytes and the run gives up at once:
	// a crash, as far as the ledger and Drive can tell.
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPUploadChunk, DropAfter: 1000})
	e.opts.Retry = retry.Policy{Attempts: 1}
	e.opts.Params.Concurrency = 1
	if _, err := e.run(t); err == nil {
		t.Fatal("the cut upload did not fail")
	}
	var held int64
	for _, n := range e.srv.SessionBytes() {
		held = n
	}
	if held != 1000 {
		t.Fatalf("the session holds %d bytes, want the 1000 that arrived", held)
	}
	starts := e.srv.Count(googletest.EPUploadStart)
	e.opts.Retry = noSleep
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Count(googletest.EPUploadStart); got != starts {
		t.Errorf("the second run opened %d new sessions, want 0 (resume)", got-starts)
	}
	fs := e.srv.FindFiles("miexit/adb_TEST123/media/DCIM/Camera/VID_big.mp4")
	if len(fs) != 1 || fs[0].Size != size {
		t.Fatalf("video in Drive: %+v", fs)
	}
	missing, different := checkVerify(t, e.importer(t), e.snap)
	if len(missing)+len(different) > 0 {
		t.Errorf("verify: missing %v, different %v", missing, different)
	}
}

func TestExpiredSessionStartsOver(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 600<<10) })
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPUploadChunk, DropAfter: 10})
	e.opts.Retry = retry.Policy{Attempts: 1}
	if _, err := e.run(t); err == nil {
		t.Fatal("the cut upload did not fail")
	}
	e.srv.ExpireSessions()
	e.opts.Retry = noSleep
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	if fs := e.srv.FindFiles("miexit/adb_TEST123/media/DCIM/Camera/VID_big.mp4"); len(fs) != 1 {
		t.Fatalf("video copies: %d", len(fs))
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) {
		addContacts(t, w, 3)
		addFiles(t, w, 0)
	})
	e.opts.Params.DryRun = true
	tally, err := e.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if e.srv.Writes() != 0 {
		t.Errorf("dry run wrote %d times", e.srv.Writes())
	}
	if tally.Count("import", "", progress.WouldCopy) == 0 {
		t.Error("dry run reported nothing it would copy")
	}
}

func TestBadTokenIsAnErrorWithoutTheToken(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addContacts(t, w, 1) })
	e.opts.HTTPClient = oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "s3cr3t-wrong"}))
	_, err := e.run(t)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Error("the error shows the token")
	}
	if !retry.IsPermanent(errors.Unwrap(err)) && !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("401 should not be retried: %v", err)
	}
}

// A folder create whose answer is lost (a reset after the work, an answer
// cut short) is retried: the retry must find the folder, not make another.
func TestLostFolderAnswersMakeNoSecondFolder(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 1<<10) })
	e.srv.Inject(googletest.Fault{Endpoint: googletest.EPFilesCreate, Truncate: true, Times: 3})
	e.opts.Retry.Sleep = func(context.Context, time.Duration) error { return nil }
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range e.srv.Files() {
		if f.MimeType == googletest.FolderMIME {
			if seen[f.Path] {
				t.Errorf("two folders at %s", f.Path)
			}
			seen[f.Path] = true
		}
	}
	if len(seen) == 0 {
		t.Fatal("no folder was made")
	}
	missing, different := checkVerify(t, e.importer(t), e.snap)
	if len(missing)+len(different) > 0 {
		t.Errorf("verify: missing %v, different %v", missing, different)
	}
}
