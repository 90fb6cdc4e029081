// Package importertest is the conformance suite every importer passes: the
// behaviour all destinations share (idempotent re-runs, resume after an
// interruption, verify catching a deleted or corrupted item), written once.
package importertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// Harness describes the destination under test.
type Harness struct {
	// New returns an importer for the destination under test. Each call is
	// "a new process" talking to the SAME destination.
	New func(t *testing.T) importers.Importer
	// Writes counts the write operations the destination has received so
	// far (files created or replaced, uploads, creates, updates, deletes).
	Writes func() int
	// Delete removes, in the destination itself (not through the
	// importer), the item List reported as r; Corrupt changes its bytes in
	// place, keeping its name.
	Delete  func(t *testing.T, r mapping.Remote)
	Corrupt func(t *testing.T, r mapping.Remote)
	// Empty removes everything the destination holds, in the destination
	// itself (as a person would in the service's web UI, or with rm -r),
	// leaving miexit's ledger claiming it all.
	Empty func(t *testing.T)
	// SwitchAccount, for an importers.Accounter, makes the credentials
	// the next importers use belong to another account of the service,
	// with another identity and nothing in it (as after `miexit auth`
	// with another account). Nil for a destination without accounts; the
	// suite then checks the importer is no Accounter.
	SwitchAccount func(t *testing.T)
}

// Run runs the suite. Its steps share one destination and run in order.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ctx := context.Background()
	state := t.TempDir()
	snapA := Build(t, filepath.Join(t.TempDir(), "a"), "a")
	// The resume step's snapshot: other items, so its copies are all new.
	snapB := Build(t, filepath.Join(t.TempDir(), "b"), "b")

	t.Run("import then verify is clean", func(t *testing.T) {
		runImport(t, ctx, h, state, snapA, nil)
		res := check(t, h, state, snapA)
		if !passed(res) {
			t.Fatalf("verify after import: %s", describe(res))
		}
		for _, r := range res.Rows {
			if r.Source == 0 && r.Kind != mapping.KindNote {
				t.Errorf("the test snapshot has no %s: the suite is broken", r.Kind)
			}
		}
	})

	t.Run("second import writes nothing", func(t *testing.T) {
		before := h.Writes()
		tally := &progress.Tally{}
		runImport(t, ctx, h, state, snapA, tally)
		if got := h.Writes() - before; got != 0 {
			t.Errorf("a second import made %d writes; want 0", got)
		}
		if n := tally.Count("import", "", progress.Copied); n != 0 {
			t.Errorf("a second import reported %d items copied; want 0", n)
		}
	})

	t.Run("an interrupted import resumes without duplicates", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		var copied atomic.Int32
		// Reporters are called from many goroutines.
		stopper := progress.Func(func(e progress.Event) {
			if e.Action == progress.Copied && copied.Add(1) == 3 {
				cancel()
			}
		})
		imp := h.New(t)
		led := openLedger(t, state)
		err := imp.Import(cctx, snapB, led, stopper)
		led.Close()
		closeImp(imp)
		cancel()
		if err == nil && copied.Load() < 3 {
			t.Fatalf("import finished after %d copies without being interrupted: the snapshot is too small", copied.Load())
		}
		runImport(t, ctx, h, state, snapB, nil)
		res := check(t, h, state, snapB)
		if !passed(res) {
			t.Fatalf("verify after resume: %s", describe(res))
		}
		noDuplicates(t, h)
	})

	t.Run("verify catches a deleted and a corrupted item, import repairs them", func(t *testing.T) {
		// Media where the destination takes them, else its records (an
		// address book holds only contacts).
		kind := mapping.KindMedia
		if imp := h.New(t); !importers.Holds(imp, kind) {
			kind = mapping.KindContact
		}
		var media []mapping.Remote
		for r, err := range h.New(t).List(ctx, kind) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(r.Path, "resume-b-") && r.Size > 0 || kind == mapping.KindContact && strings.Contains(r.Key, "-b-") {
				media = append(media, r)
			}
		}
		if len(media) < 2 {
			t.Fatalf("List(%s) gave %d items from the resume snapshot", kind, len(media))
		}
		h.Delete(t, media[0])
		h.Corrupt(t, media[1])
		res := check(t, h, state, snapB)
		if passed(res) {
			t.Fatalf("verify passed after a %s was deleted and another corrupted", kind)
		}
		var missing, different []string
		for _, p := range res.Problems {
			id := p.Path
			if kind == mapping.KindContact {
				id = p.Key
			}
			switch p.Problem {
			case "missing":
				missing = append(missing, id)
			case "different":
				different = append(different, id)
			}
		}
		if kind == mapping.KindContact {
			if len(missing) != 1 || missing[0] != media[0].Key {
				t.Errorf("missing = %q, want only %q", missing, media[0].Key)
			}
			if len(different) != 1 || different[0] != media[1].Key {
				t.Errorf("different = %q, want only %q", different, media[1].Key)
			}
		} else {
			if len(missing) != 1 || !strings.HasSuffix(media[0].Path, strings.TrimPrefix(missing[0], "media/")) {
				t.Errorf("missing = %q, want only %q", missing, media[0].Path)
			}
			if len(different) != 1 || !strings.HasSuffix(media[1].Path, strings.TrimPrefix(different[0], "media/")) {
				t.Errorf("different = %q, want only %q", different, media[1].Path)
			}
		}
		runImport(t, ctx, h, state, snapB, nil)
		if res := check(t, h, state, snapB); !passed(res) {
			t.Fatalf("verify after the repairing import: %s", describe(res))
		}
		noDuplicates(t, h)
	})

	t.Run("destination emptied behind miexit's back: one migrate restores it exactly", func(t *testing.T) {
		if h.Empty == nil {
			t.Fatal("the harness has no Empty: every importer must show it survives an emptied destination")
		}
		h.Empty(t)
		for _, k := range mapping.Kinds {
			for r, err := range h.New(t).List(ctx, k) {
				if err != nil {
					t.Fatal(err)
				}
				t.Fatalf("after Empty the destination still holds %s %s%s", k, r.Path, r.Key)
			}
		}
		res := Migrate(t, ctx, h, state, snapB)
		t.Logf("migrate's final check repaired %d items", res.Repaired)
		if !passed(res) {
			t.Fatalf("migrate's final check after emptying the destination (repaired %d): %s", res.Repaired, describe(res))
		}
		full := check(t, h, state, snapB)
		if !passed(full) {
			t.Fatalf("verify after the migrate: %s", describe(full))
		}
		for _, r := range full.Rows {
			if r.NotChecked {
				continue
			}
			if r.Extra != 0 || r.Destination != r.Source {
				t.Errorf("%s: the destination holds %d (%d extra), the snapshot %d; want exactly the snapshot", r.Kind, r.Destination, r.Extra, r.Source)
			}
		}
		noDuplicates(t, h)
		// The repaired ledger is trusted again: nothing more to write.
		before := h.Writes()
		if res := Migrate(t, ctx, h, state, snapB); !passed(res) || res.Repaired != 0 {
			t.Errorf("a migrate after the repair: ok %v, repaired %d; want ok, 0", passed(res), res.Repaired)
		}
		if got := h.Writes() - before; got != 0 {
			t.Errorf("a migrate after the repair made %d writes; want 0", got)
		}
	})

	t.Run("another account: its own ledger, one import fills it", func(t *testing.T) {
		accountStep(t, ctx, h, state, snapB)
	})
}

// accountStep checks that the ledger is kept per account: after signing
// in to another account, a plain import (no final check to repair what
// it skipped) fills the new account, and the old account's records stay.
func accountStep(t *testing.T, ctx context.Context, h Harness, state string, snap *snapshot.Reader) {
	if h.SwitchAccount == nil {
		if _, ok := h.New(t).(importers.Accounter); ok {
			t.Fatal("the importer is an Accounter but the harness cannot switch its account")
		}
		t.Log("no account: the ledger is keyed by the destination's Name")
		return
	}
	key := func() string {
		t.Helper()
		imp := h.New(t)
		defer closeImp(imp)
		k, err := importers.LedgerKey(ctx, imp)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	records := func(k string) int {
		t.Helper()
		led := openLedger(t, state)
		defer led.Close()
		n, err := led.Len(k)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	oldKey := key()
	had := records(oldKey)
	if had == 0 {
		t.Fatalf("no ledger records under %q after the imports: the importer keys them otherwise", oldKey)
	}
	h.SwitchAccount(t)
	newKey := key()
	if newKey == oldKey {
		t.Fatalf("another account gives the same ledger key %q", newKey)
	}
	runImport(t, ctx, h, state, snap, nil)
	if res := check(t, h, state, snap); !passed(res) {
		t.Fatalf("verify of the new account after one import: %s", describe(res))
	}
	noDuplicates(t, h)
	if n := records(oldKey); n != had {
		t.Errorf("the old account's records went from %d to %d", had, n)
	}
	if records(newKey) == 0 {
		t.Errorf("no records under the new account's key %q", newKey)
	}
}

// Migrate does what pipeline.Migrate does once the snapshot exists: an
// import by one importer ("a process"), then the final check, with its one
// re-import of what it finds missing or different, by another.
func Migrate(t *testing.T, ctx context.Context, h Harness, state string, snap *snapshot.Reader) verify.Result {
	t.Helper()
	runImport(t, ctx, h, state, snap, nil)
	imp := h.New(t)
	defer closeImp(imp)
	led := openLedger(t, state)
	defer led.Close()
	res, err := verify.Settle(ctx, snap, imp, led, progress.Discard)
	if err != nil {
		t.Fatalf("migrate's final check: %v", err)
	}
	return res
}

func runImport(t *testing.T, ctx context.Context, h Harness, state string, snap *snapshot.Reader, rep progress.Reporter) {
	t.Helper()
	imp := h.New(t)
	defer closeImp(imp)
	led := openLedger(t, state)
	defer led.Close()
	if rep == nil {
		rep = progress.Discard
	}
	if err := imp.Import(ctx, snap, led, rep); err != nil {
		t.Fatalf("import: %v", err)
	}
}

func check(t *testing.T, h Harness, state string, snap *snapshot.Reader) verify.Result {
	t.Helper()
	imp := h.New(t)
	defer closeImp(imp)
	led := openLedger(t, state)
	defer led.Close()
	res, err := verify.Run(context.Background(), snap, imp, led)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	// A destination taking some kinds only must never make verify pass
	// for the snapshot: the others are copied nowhere by it.
	unchecked := map[mapping.Kind]bool{}
	for _, k := range res.Unchecked {
		unchecked[k] = true
	}
	for _, r := range res.Rows {
		if importers.Holds(imp, r.Kind) == r.NotChecked {
			t.Errorf("verify row %s: not_checked %v, but the importer holds it: %v", r.Kind, r.NotChecked, importers.Holds(imp, r.Kind))
		}
		if r.NotChecked && r.Source > 0 {
			if res.OK || !unchecked[r.Kind] {
				t.Errorf("verify ok %v with %d %s not taken by %s (unchecked %v): it would call signing out safe", res.OK, r.Source, r.Kind, imp.Name(), res.Unchecked)
			}
		}
	}
	if len(res.Unchecked) == 0 && res.OK != res.CheckedOK() {
		t.Errorf("verify ok %v but checked ok %v with nothing unchecked", res.OK, res.CheckedOK())
	}
	return res
}

// passed: every kind the destination takes is complete there (for most
// destinations, every kind; check asserts the rest is never a pass).
func passed(res verify.Result) bool { return res.CheckedOK() }

func closeImp(imp importers.Importer) {
	if c, ok := imp.(importers.Closer); ok {
		c.Close()
	}
}

func openLedger(t *testing.T, state string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(filepath.Join(state, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func describe(res verify.Result) string {
	var b strings.Builder
	for _, r := range res.Rows {
		fmt.Fprintf(&b, "\n  %s: source %d, destination %d, missing %d, different %d", r.Kind, r.Source, r.Destination, r.Missing, r.Different)
	}
	for i, p := range res.Problems {
		if i == 20 {
			break
		}
		fmt.Fprintf(&b, "\n  %s %s %s %s %s", p.Problem, p.Kind, p.Path, p.Key, p.Detail)
	}
	return b.String()
}

func noDuplicates(t *testing.T, h Harness) {
	t.Helper()
	for _, k := range mapping.Kinds {
		seen := map[string]bool{}
		for r, err := range h.New(t).List(context.Background(), k) {
			if err != nil {
				t.Fatal(err)
			}
			id := r.Path
			if !snapshot.WholeFile(k) {
				id = r.Key
			}
			if seen[id] {
				t.Errorf("the destination holds %s %q twice", k, id)
			}
			seen[id] = true
		}
	}
}

// Snapshot opens a snapshot folder.
func Snapshot(t *testing.T, dir string) *snapshot.Reader {
	t.Helper()
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Build writes a test snapshot into dir and opens it. Its items are all
// named after tag, so two snapshots built with other tags do not overlap.
// It holds contacts (one with a photo), SMS with awkward bodies, an MMS
// with an attachment, calls, notes, and media with CJK names, a case
// clash, an empty file and one of 5 MiB (past single-request limits).
func Build(t *testing.T, dir, tag string) *snapshot.Reader {
	t.Helper()
	ctx := context.Background()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test:" + tag})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			w.Abort()
			t.Fatal(err)
		}
	}
	for i, name := range []string{"Ana Example", "王小明", "Zoë O'Test"} {
		card := vcard.Card{}
		card.SetValue(vcard.FieldFormattedName, name+" "+tag)
		card.AddName(&vcard.Name{GivenName: name, FamilyName: tag})
		card.Add(vcard.FieldTelephone, &vcard.Field{Value: fmt.Sprintf("+1555010%d", i), Params: vcard.Params{vcard.ParamType: {"cell"}}})
		if i == 0 {
			card.Add(vcard.FieldPhoto, &vcard.Field{Value: "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="})
		}
		must(w.AddContact(ctx, mapping.Contact{Key: fmt.Sprintf("test-%s-%d", tag, i), Card: card}))
	}
	base := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	bodies := []string{"hello, world", "line one\nline two = 2", "明天见 🎉", `quotes " and <tags> & ampersands`}
	for i, b := range bodies {
		must(w.AddMessage(ctx, mapping.Message{Type: "sms", Box: 1 + i%2, Address: "+15550100", Date: base.Add(time.Duration(i) * time.Minute), Body: b + " " + tag}))
	}
	att, err := w.AddFile(ctx, "messages/attachments/resume-"+tag+"/photo.jpg", bytes.NewReader(jpegBytes(1)), base)
	must(err)
	must(w.AddMessage(ctx, mapping.Message{Type: "mms", Box: 1, Address: "+15550100", Date: base.Add(time.Hour),
		Parts: []mapping.Part{{Seq: 0, ContentType: "text/plain", Text: "look " + tag}, {Seq: 1, ContentType: "image/jpeg", Name: "photo.jpg", File: att.Path, Size: att.Size, SHA256: att.SHA256}},
		Addrs: []mapping.Addr{{Address: "+15550100", Type: 137}}}))
	must(w.AddCall(ctx, mapping.Call{Number: "+15550100", Date: base, Duration: 61, Type: 1}))
	must(w.AddCall(ctx, mapping.Call{Number: "+8613800138000", Date: base.Add(time.Hour), Type: 3}))
	must(w.AddNote(ctx, mapping.Note{Key: "note-" + tag, Folder: "Personal", Title: "Shopping " + tag, Body: "- 豆腐\n- tea", Modified: base}))
	files := map[string][]byte{
		"DCIM/Camera/resume-" + tag + "-IMG_1.JPG": jpegBytes(2),
		"DCIM/Camera/resume-" + tag + "-img_1.jpg": jpegBytes(3),
		"Pictures/微信/resume-" + tag + "-照片.jpg":    jpegBytes(4),
		"DCIM/Camera/resume-" + tag + "-empty.jpg": {},
		"Movies/resume-" + tag + "-big.mp4":        bigFile(5<<20 + 12345),
	}
	for _, p := range []string{"DCIM/Camera/resume-" + tag + "-IMG_1.JPG", "DCIM/Camera/resume-" + tag + "-img_1.jpg", "Pictures/微信/resume-" + tag + "-照片.jpg", "DCIM/Camera/resume-" + tag + "-empty.jpg", "Movies/resume-" + tag + "-big.mp4"} {
		data := files[p]
		must(w.AddMedia(ctx, mapping.Media{Path: p, Size: int64(len(data)), ModTime: base}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}))
	}
	must(w.Commit(ctx))
	return Snapshot(t, dir)
}

// Photos writes a snapshot of n small photos alone (no contacts,
// messages, calls or notes), each with its own bytes, into dir and opens
// it.
func Photos(t *testing.T, dir string, n int) *snapshot.Reader {
	t.Helper()
	ctx := context.Background()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test:photos"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		data := append(jpegBytes(byte(i)), fmt.Sprint(i)...)
		if err := w.AddMedia(ctx, mapping.Media{Path: fmt.Sprintf("DCIM/Camera/IMG_%05d.jpg", i), Size: int64(len(data))}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}); err != nil {
			w.Abort()
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return Snapshot(t, dir)
}

func jpegBytes(seed byte) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0}
	for i := 0; i < 300; i++ {
		b = append(b, byte(i)*seed+seed)
	}
	return append(b, 0xFF, 0xD9)
}

func bigFile(n int) []byte {
	b := make([]byte, n)
	copy(b, []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'})
	x := uint32(2463534242)
	for i := 12; i < n; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
