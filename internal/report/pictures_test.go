package report

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

func TestRecordsCopiedAsADocumentCountAsCopied(t *testing.T) {
	c := NewCollector("import")
	c.Report(progress.Event{Phase: "import", Kind: mapping.KindFile, Item: snapshot.ContactsPath, Action: progress.Copied})
	c.Report(progress.Event{Phase: "import", Kind: mapping.KindFile, Item: snapshot.MessagesPath, Action: progress.Unchanged})
	rows := c.Rows(&mapping.Counts{Contacts: 7, Messages: 11, Calls: 6})
	got := map[mapping.Kind]Row{}
	for _, r := range rows {
		got[r.Kind] = r
	}
	if r := got[mapping.KindContact]; r.Found != 7 || r.Copied != 7 {
		t.Errorf("contacts row %+v, want 7 found and copied", r)
	}
	if r := got[mapping.KindMessage]; r.Found != 11 || r.Unchanged != 11 || r.Copied != 0 {
		t.Errorf("messages row %+v, want 11 found and already there", r)
	}
	if r := got[mapping.KindCall]; r.Found != 6 || r.Copied != 0 || r.Unchanged != 0 {
		t.Errorf("calls row %+v: its document was never imported, so nothing is claimed", r)
	}
}

func TestPicturesShowThumbnailsFromTheSourceAndFailedMedia(t *testing.T) {
	src := t.TempDir()
	snapDir := t.TempDir()
	pic := pngBytes(t)
	os.MkdirAll(filepath.Join(src, "MIUI", ".thumbnailFile"), 0o755)
	os.WriteFile(filepath.Join(src, "MIUI", ".thumbnailFile", "a.jpg"), pic, 0o644)
	os.MkdirAll(filepath.Join(snapDir, "media", "DCIM"), 0o755)
	os.WriteFile(filepath.Join(snapDir, "media", "DCIM", "b.png"), pic, 0o644)

	c := NewCollector("import")
	c.Report(progress.Event{Phase: "export", Kind: mapping.KindMedia, Item: "MIUI/.thumbnailFile/a.jpg", Action: progress.Thumbnail})
	c.Report(progress.Event{Phase: "export", Kind: mapping.KindMedia, Item: "../../etc/passwd", Action: progress.Thumbnail})
	c.Report(progress.Event{Phase: "import", Kind: mapping.KindMedia, Item: "media/DCIM/b.png", Action: progress.Failed, Err: "quota exceeded"})
	ps := c.Pictures(src, snapDir)
	if len(ps) != 3 {
		t.Fatalf("%d pictures, want 3: %+v", len(ps), ps)
	}
	if ps[0].File != filepath.Join(src, "MIUI", ".thumbnailFile", "a.jpg") || !strings.Contains(ps[0].Note, "reduced copy") {
		t.Errorf("thumbnail picture %+v", ps[0])
	}
	if ps[1].File != "" {
		t.Errorf("a hostile item name became a path outside the source: %q", ps[1].File)
	}
	if ps[2].File != filepath.Join(snapDir, "media", "DCIM", "b.png") || !strings.Contains(ps[2].Note, "quota exceeded") {
		t.Errorf("failed picture %+v", ps[2])
	}

	verified := verify.Result{OK: true, Rows: []verify.Row{{Kind: mapping.KindMedia, Source: 1, Destination: 1}}}
	in := Report{Verify: &verified, Pictures: ps[:1], Thumbnails: 1}
	if safe, text := NextStep(in); safe || !strings.Contains(text, "reduced copies") {
		t.Errorf("NextStep with a thumbnail only = %v, %q; want not safe", safe, text)
	}
	out := filepath.Join(t.TempDir(), "report.html")
	f, _ := os.Create(out)
	if err := WriteReport(f, in); err != nil {
		t.Fatal(err)
	}
	f.Close()
	imgs := elements(parseFile(t, out), "img")
	if len(imgs) != 1 || !strings.HasPrefix(attr(imgs[0], "src"), "data:image/jpeg;base64,") {
		t.Fatalf("report shows %d pictures, want the thumbnail inline", len(imgs))
	}
}

func TestMovedContactsListsCardsGoogleCannotHoldFieldForField(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	plain := vcard.Card{}
	plain.SetValue(vcard.FieldVersion, "4.0")
	plain.SetValue(vcard.FieldFormattedName, "Plain Person")
	plain.Add(vcard.FieldTelephone, &vcard.Field{Value: "+15550100"})
	odd := vcard.Card{}
	odd.SetValue(vcard.FieldVersion, "4.0")
	odd.SetValue(vcard.FieldFormattedName, "Odd Person")
	odd.Add("X-MIUI-RINGTONE", &vcard.Field{Value: "bells.ogg"})
	odd.Add(vcard.FieldPhoto, &vcard.Field{Value: "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes(t))})
	for i, c := range []vcard.Card{plain, odd} {
		if err := w.AddContact(ctx, mapping.Contact{Key: string(rune('a' + i)), Card: c}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := MovedContacts(snap, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Title != "Odd Person" || !strings.Contains(ps[0].Note, "X-MIUI-RINGTONE") || ps[0].Data == nil {
		t.Fatalf("moved contacts = %+v, want Odd Person with its ringtone field and photo", ps)
	}
}
