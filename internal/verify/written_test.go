package verify_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/miexit/miexit/exporters/archive"
	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/dir"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// migrated migrates the sample to a fresh dir: and returns what verify
// needs to look at it again.
func migrated(t *testing.T) (snap *snapshot.Reader, imp *dir.Importer, led *ledger.Ledger, dest string) {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	state := filepath.Join(tmp, "state")
	dest = filepath.Join(tmp, "dest")
	res, err := pipeline.Migrate(ctx, "archive:../../testdata/sample", "dir:"+dest, "", pipeline.Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verify.OK {
		t.Fatalf("migrate's own check failed: %+v", res.Verify.Problems)
	}
	if snap, err = snapshot.Open(res.Export.Dir); err != nil {
		t.Fatal(err)
	}
	if imp, err = dir.New(importers.Params{Arg: dest}); err != nil {
		t.Fatal(err)
	}
	if led, err = ledger.Open(filepath.Join(state, "ledger.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	return snap, imp, led, dest
}

func problems(res verify.Result) string {
	var b strings.Builder
	for _, p := range res.Problems {
		b.WriteString(p.Problem + " " + string(p.Kind) + " " + p.Key + " " + p.Path + "\n")
	}
	return b.String()
}

func firstMedia(t *testing.T, dest string) string {
	t.Helper()
	var found string
	filepath.WalkDir(filepath.Join(dest, "media"), func(p string, de os.DirEntry, err error) error {
		if err == nil && found == "" && de.Type().IsRegular() {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatal("no media at the destination")
	}
	return found
}

func TestWrittenAgreesWithAFullVerify(t *testing.T) {
	snap, imp, led, _ := migrated(t)
	ctx := context.Background()
	full, err := verify.Run(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	quick, err := verify.RunWritten(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	if !full.OK || !quick.OK {
		t.Fatalf("full ok %v, written ok %v", full.OK, quick.OK)
	}
	for i := range full.Rows {
		if full.Rows[i] != quick.Rows[i] {
			t.Errorf("row %s: full %+v, written %+v", full.Rows[i].Kind, full.Rows[i], quick.Rows[i])
		}
	}
	var msgs int
	for _, r := range quick.Rows {
		if r.Kind == mapping.KindMessage {
			msgs = r.Source
		}
	}
	if msgs == 0 {
		t.Fatal("the sample has no messages to compare")
	}
}

func TestWrittenReadsWhatChangedSinceTheImport(t *testing.T) {
	snap, imp, led, dest := migrated(t)
	ctx := context.Background()
	// Same size, new bytes, new mtime: the ledger's checksum no longer
	// stands, so the file is read and found different.
	p := firstMedia(t, dest)
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A message gone from the destination's messages.jsonl: the document
	// differs from the snapshot's, so its records are compared one by one.
	mp := filepath.Join(dest, filepath.FromSlash(snapshot.MessagesPath))
	lines := bytes.SplitAfter(mustRead(t, mp), []byte("\n"))
	if err := os.WriteFile(mp, bytes.Join(lines[1:], nil), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := verify.RunWritten(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	got := problems(res)
	rel, _ := filepath.Rel(dest, p)
	if res.OK || !strings.Contains(got, "different media") || !strings.Contains(got, filepath.ToSlash(rel)) || !strings.Contains(got, "missing message") {
		t.Fatalf("written check missed a change:\n%s", got)
	}
	// A file deleted is missing either way.
	os.Remove(p)
	res, err = verify.RunWritten(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(problems(res), "missing media") {
		t.Fatalf("deleted file not reported:\n%s", problems(res))
	}
}

func TestOnlyAFullVerifyCatchesBytesChangedBehindSizeAndMtime(t *testing.T) {
	// The limit of the written check, and why `miexit verify` re-reads:
	// bytes changed with size and mtime put back (bit rot, a tool that
	// restores mtimes) pass migrate's check and fail the full one.
	snap, imp, led, dest := migrated(t)
	ctx := context.Background()
	p := firstMedia(t, dest)
	st, _ := os.Stat(p)
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0xff
	os.WriteFile(p, b, 0o644)
	os.Chtimes(p, st.ModTime(), st.ModTime())
	quick, err := verify.RunWritten(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	full, err := verify.Run(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	if !quick.OK || full.OK {
		t.Fatalf("written ok %v (want true), full ok %v (want false)", quick.OK, full.OK)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWrittenFindsExtraRecordsOfAKindTheSnapshotLacks: a kind the snapshot
// has none of is not compared record by record, but what the destination
// holds of it is still extra, as a full verify says.
func TestWrittenFindsExtraRecordsOfAKindTheSnapshotLacks(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	if _, err := pipeline.Migrate(ctx, "archive:../../testdata/sample", "dir:"+full, "", pipeline.Options{StateDir: filepath.Join(tmp, "state-full")}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "phone")
	if err := os.CopyFS(src, os.DirFS("../../testdata/sample")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(src, "calls.jsonl"))
	os.RemoveAll(filepath.Join(src, "MIUI", "backup"))
	state, dest := filepath.Join(tmp, "state"), filepath.Join(tmp, "dest")
	res, err := pipeline.Migrate(ctx, "archive:"+src, "dir:"+dest, "", pipeline.Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if res.Export.Counts.Calls != 0 || !res.Verify.OK {
		t.Fatalf("calls %d, verify %v", res.Export.Counts.Calls, problems(res.Verify))
	}
	calls := filepath.FromSlash(snapshot.CallsPath)
	os.MkdirAll(filepath.Dir(filepath.Join(dest, calls)), 0o755)
	if err := os.WriteFile(filepath.Join(dest, calls), mustRead(t, filepath.Join(full, calls)), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Open(res.Export.Dir)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := dir.New(importers.Params{Arg: dest})
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(state, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	written, err := verify.RunWritten(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := verify.Run(ctx, snap, imp, led)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range written.Rows {
		if r.Kind == mapping.KindCall && (r.Source != 0 || r.Extra == 0) {
			t.Errorf("calls row %+v, want none in the source and the destination's extra", r)
		}
		if r != whole.Rows[i] {
			t.Errorf("row %s: written %+v, full %+v", r.Kind, r, whole.Rows[i])
		}
	}
}
