package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/mapping"
)

func opener(b []byte) Opener {
	return func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

var jpeg = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{7}, 100)...)

func TestHostileMediaPathsStayInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "snap")
	w, err := Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range []string{"../escape.jpg", "/etc/passwd", "a/../../b.jpg", "C:/x.jpg", "ok\x00.jpg", "bad\n.jpg", "", strings.Repeat("n", 300) + ".jpg", "\xff\xfe.jpg"} {
		err := w.AddMedia(ctx, mapping.Media{Path: p, Size: int64(len(jpeg))}, opener(jpeg))
		if !errors.Is(err, mapping.ErrBadInput) {
			t.Errorf("AddMedia(%q) = %v, want ErrBadInput", p, err)
		}
		if _, err := w.AddFile(ctx, p, bytes.NewReader(jpeg), time.Time{}); !errors.Is(err, mapping.ErrBadInput) {
			t.Errorf("AddFile(%q) = %v, want ErrBadInput", p, err)
		}
	}
	if _, err := w.AddFile(ctx, ManifestPath, bytes.NewReader(jpeg), time.Time{}); err == nil {
		t.Error("AddFile may overwrite manifest.json")
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Errorf("files written beside the snapshot: %v", ents)
	}
}

func TestReExportSkipsUnchangedMediaAndKeepsBytes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	mt := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	opens := 0
	export := func(data []byte) (*progress.Tally, error) {
		tally := &progress.Tally{}
		w, err := Create(dir, Options{Progress: tally})
		if err != nil {
			return nil, err
		}
		err = w.AddMedia(ctx, mapping.Media{Path: "DCIM/Camera/IMG_20240101_000000.jpg", Size: int64(len(data)), ModTime: mt},
			func(context.Context) (io.ReadCloser, error) { opens++; return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return nil, err
		}
		return tally, w.Commit(ctx)
	}
	if _, err := export(jpeg); err != nil {
		t.Fatal(err)
	}
	tally, err := export(jpeg)
	if err != nil {
		t.Fatal(err)
	}
	if opens != 1 || tally.Count("export", mapping.KindMedia, progress.Unchanged) != 1 {
		t.Fatalf("unchanged media read again: opens=%d", opens)
	}
	changed := append(bytes.Clone(jpeg), 1)
	if _, err := export(changed); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "media/DCIM/Camera/IMG_20240101_000000.jpg"))
	if opens != 2 || !bytes.Equal(got, changed) {
		t.Fatalf("changed media not copied: opens=%d", opens)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == mapping.KindMedia && (e.Size != int64(len(changed)) || e.TakenFrom != "filename" || e.MIME != "image/jpeg") {
			t.Errorf("entry %+v", e)
		}
	}
}

func TestAbortedExportKeepsThePreviousManifest(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w, _ := Create(dir, Options{Source: "first"})
	w.AddMessage(ctx, mapping.Message{Address: "1", Body: "kept", Date: time.Unix(1, 0)})
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w, _ = Create(dir, Options{Source: "second"})
	w.AddMessage(ctx, mapping.Message{Address: "2", Body: "lost", Date: time.Unix(2, 0)})
	w.Abort()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for m, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, m.Body)
	}
	if r.Source() != "first" || len(bodies) != 1 || bodies[0] != "kept" {
		t.Fatalf("after an aborted export: source %q, bodies %q", r.Source(), bodies)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "messages"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".miexit-tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestRecordsRoundTripAndDuplicatesStoredOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w, _ := Create(dir, Options{})
	card := vcard.Card{}
	card.SetValue(vcard.FieldFormattedName, "王小明")
	card.AddName(&vcard.Name{GivenName: "小明", FamilyName: "王"})
	card.SetValue("X-PHONETIC-FIRST-NAME", "Xiaoming")
	if err := w.AddContact(ctx, mapping.Contact{Card: card}); err != nil {
		t.Fatal(err)
	}
	m := mapping.Message{Address: "+86 138 0013 8000", Box: 1, Date: time.UnixMilli(1714521600123), Body: "a, b\nc = d 🎉"}
	w.AddMessage(ctx, m)
	m.Address = "+8613800138000" // the same message from another source
	w.AddMessage(ctx, m)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ := Open(dir)
	if c := r.Counts(); c.Contacts != 1 || c.Messages != 1 {
		t.Fatalf("counts %+v", c)
	}
	for c, err := range r.Contacts() {
		if err != nil {
			t.Fatal(err)
		}
		if c.Card.Value("X-PHONETIC-FIRST-NAME") != "Xiaoming" || c.Card.Name().GivenName != "小明" || c.Key == "" {
			t.Errorf("contact came back as %+v", c)
		}
	}
	for msg, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		if msg.Body != m.Body {
			t.Errorf("body %q, want %q", msg.Body, m.Body)
		}
	}
	xml, _ := os.ReadFile(filepath.Join(dir, SMSXMLPath))
	if !bytes.Contains(xml, []byte(`<smses count="1">`)) || !bytes.Contains(xml, []byte("a, b&#10;c = d 🎉")) {
		t.Errorf("B&R XML:\n%s", xml)
	}
}

func TestRecordsRefusesHugeLines(t *testing.T) {
	defer func(old int) { maxRecord = old }(maxRecord)
	maxRecord = 1 << 20
	huge := io.MultiReader(strings.NewReader(`{"key":"k","body":"`), io.LimitReader(zeros{}, int64(maxRecord)+10), strings.NewReader("\"}\n"))
	for _, err := range Records(huge, "messages.jsonl") {
		if !errors.Is(err, mapping.ErrBadInput) {
			t.Fatalf("got %v, want ErrBadInput", err)
		}
		return
	}
	t.Fatal("no error for a line over the limit")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// A download whose bytes do not match the listed sha1 (or size) never
// replaces the good copy an earlier export made.
func TestDamagedDownloadKeepsTheGoodCopy(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	good := jpeg
	sum := "e0d2d4b5e8fbb1a4cbd4a24a3a7fc3b8e6b0b2c1" // not the sha1 of bad
	w, _ := Create(dir, Options{})
	if err := w.AddMedia(ctx, mapping.Media{Path: "Camera/a.jpg", Size: int64(len(good)), ModTime: time.Unix(100, 0)}, opener(good)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	bad := append(bytes.Clone(good[:len(good)-1]), 0)
	w, _ = Create(dir, Options{})
	err := w.AddMedia(ctx, mapping.Media{Path: "Camera/a.jpg", Size: int64(len(bad)), ModTime: time.Unix(200, 0), SHA1: sum}, opener(bad))
	w.Abort()
	if err == nil || !strings.Contains(err.Error(), "sha1") {
		t.Fatalf("damaged download accepted: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "media", "Camera", "a.jpg"))
	if !bytes.Equal(got, good) {
		t.Fatal("the good copy was replaced by a damaged download")
	}
}

func TestEntriesOfDecodesOnlyWhatIsWantedAndReadsOtherLayouts(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	w, err := Create(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m := mapping.Message{Type: "sms", Box: 1, Address: "+15550100", Date: time.Unix(int64(1700000000+i), 0), Body: "hi"}
		if err := w.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddMedia(ctx, mapping.Media{Path: "DCIM/a.jpg", Size: int64(len(jpeg))}, opener(jpeg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	collect := func(want func(mapping.Kind) bool) (all []mapping.Entry) {
		for e, err := range r.EntriesOf(want) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
		return all
	}
	full := collect(nil)
	media := collect(func(k mapping.Kind) bool { return k == mapping.KindMedia })
	if len(full) != len(media) || len(full) < 5 {
		t.Fatalf("EntriesOf yielded %d entries, Entries %d", len(media), len(full))
	}
	for i := range full {
		switch {
		case full[i].Kind != media[i].Kind:
			t.Errorf("entry %d: kind %s, want %s", i, media[i].Kind, full[i].Kind)
		case full[i].Kind == mapping.KindMedia && media[i] != full[i]:
			t.Errorf("media entry decoded as %+v, want %+v", media[i], full[i])
		case full[i].Kind == mapping.KindMessage && media[i].Key != "":
			t.Errorf("an unwanted entry was decoded: %+v", media[i])
		}
	}

	// A manifest laid out otherwise (indented by another tool) is read by
	// the general decoder, with the same entries.
	mp := filepath.Join(dir, ManifestPath)
	raw, _ := os.ReadFile(mp)
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	os.WriteFile(mp, pretty, 0o644)
	if again := collect(nil); len(again) != len(full) || again[len(again)-1] != full[len(full)-1] {
		t.Fatalf("indented manifest: %d entries, want %d", len(again), len(full))
	}

	// A manifest cut short is an error, never a shorter list.
	os.WriteFile(mp, raw[:len(raw)-10], 0o644)
	var gotErr error
	for _, err := range r.Entries() {
		if err != nil {
			gotErr = err
		}
	}
	if gotErr == nil {
		t.Fatal("a truncated manifest read without error")
	}
}
