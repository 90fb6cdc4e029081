package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	// The RSS figures re-execute the test binary as a migrate child.
	MaybeChild()
	os.Exit(m.Run())
}

// TestRunTinyPrintsEveryRow proves the benchmark still runs end to end;
// it never looks at the timings.
func TestRunTinyPrintsEveryRow(t *testing.T) {
	rep, err := Run(context.Background(), Config{Size: Tiny, Work: t.TempDir(), RSS: true, RSSFiles: 20})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, id := range RowIDs {
		if !strings.Contains(out, "| "+id+" |") {
			t.Errorf("table has no %q row:\n%s", id, out)
		}
	}
	if len(rep.Rows) != len(RowIDs) {
		t.Errorf("got %d rows, want %d:\n%s", len(rep.Rows), len(RowIDs), out)
	}
	if rep.Data.Files != Tiny.Media()+2 {
		t.Errorf("generated %d files, want %d media + messages + contacts", rep.Data.Files, Tiny.Media())
	}
}

func TestRunWithoutRcloneSaysSkipped(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole tiny benchmark")
	}
	s := Tiny
	s.Photos, s.Videos, s.SMS, s.Contacts = 3, 0, 5, 2
	rep, err := Run(context.Background(), Config{Size: s, Work: t.TempDir(), Rclone: "-"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rows {
		if r.ID == RowRclone && r.Value != "skipped" {
			t.Errorf("rclone row = %q, want skipped", r.Value)
		}
	}
}
