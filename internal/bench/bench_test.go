package bench

import (
	"bytes"
	"context"
	"log/slog"
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
	for _, r := range rep.Rows {
		// CI installs adb: there the ADB rows must really run.
		isADB := r.ID == RowADB || r.ID == RowADBPull || r.ID == RowADB1
		if isADB && r.Value == "skipped" && os.Getenv("CI") == "true" {
			t.Errorf("CI=true but the %s row was skipped: %s", r.ID, r.Note)
		}
		if r.ID != RowRclone && r.ID != RowRcloneRerun && !isADB && r.Value == "skipped" {
			t.Errorf("%s row skipped: %s", r.ID, r.Note)
		}
	}
	if rep.Data.Files != Tiny.Media()+2 {
		t.Errorf("generated %d files, want %d media + messages + contacts", rep.Data.Files, Tiny.Media())
	}
}

func TestADBRowsSayWhenAdbIsMissing(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv("PATH", t.TempDir())
	rows, err := adbRows(context.Background(), Config{Size: Tiny, Work: t.TempDir(), Log: slog.New(slog.DiscardHandler)}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want adb-pull, adb and adb-parallel1", len(rows))
	}
	for _, r := range rows {
		if r.Value != "skipped" || !strings.Contains(r.Note, "adb") {
			t.Errorf("%s row = %q (%s), want skipped naming adb", r.ID, r.Value, r.Note)
		}
	}
}

func TestADBRowsFailInCIWithoutAdb(t *testing.T) {
	t.Setenv("CI", "true")
	t.Setenv("PATH", t.TempDir())
	_, err := adbRows(context.Background(), Config{Size: Tiny, Work: t.TempDir(), Log: slog.New(slog.DiscardHandler)}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "CI=true") {
		t.Errorf("err = %v, want the CI=true failure", err)
	}
}

func TestRunWithoutRcloneSaysSkipped(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole tiny benchmark")
	}
	s := Tiny
	s.Photos, s.Videos, s.SMS, s.Contacts = 3, 0, 5, 2
	rep, err := Run(context.Background(), Config{Size: s, Work: t.TempDir(), Rclone: "-", NoADB: true, NoCloud: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rows {
		if (r.ID == RowRclone || r.ID == RowRcloneRerun) && r.Value != "skipped" {
			t.Errorf("rclone row = %q, want skipped", r.Value)
		}
	}
}

// TestPhasesWriteHeapProfiles proves the per-phase memory mode runs and
// leaves a heap profile per child; it never looks at the figures.
func TestPhasesWriteHeapProfiles(t *testing.T) {
	profiles := t.TempDir()
	rs, err := Phases(context.Background(), t.TempDir(), 20, 4, 0, profiles)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, r := range rs {
		phases = append(phases, r.Phase)
		if r.PeakRSS <= 0 || r.PeakLive == 0 {
			t.Errorf("%s: peak RSS %d, peak live heap %d", r.Phase, r.PeakRSS, r.PeakLive)
		}
		if st, err := os.Stat(r.Profile); err != nil || st.Size() == 0 {
			t.Errorf("%s: no heap profile: %v", r.Phase, err)
		}
	}
	if got := strings.Join(phases, ","); got != "export,import,verify,migrate,rerun" {
		t.Errorf("phases = %s", got)
	}
}
