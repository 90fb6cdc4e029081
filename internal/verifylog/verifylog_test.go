package verifylog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

func result(dest string, rows ...verify.Row) verify.Result {
	res := verify.Result{Destination: dest, Rows: rows, OK: true}
	for _, r := range rows {
		if r.Missing+r.Different > 0 {
			res.OK = false
			res.Problems = append(res.Problems, verify.Problem{Kind: r.Kind, Problem: "missing"})
		}
	}
	return res
}

func TestSaveThenLoadKeepsOrderAndModeAndOmitsProblemNames(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if err := save(dir, result("dir:/a", verify.Row{Kind: mapping.KindMedia, Source: 3, Destination: 2, Missing: 1}), "archive:x", t0); err != nil {
		t.Fatal(err)
	}
	if err := save(dir, result("google", verify.Row{Kind: mapping.KindContact, Source: 5, Destination: 5}), "adb:s1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("history mode %v, want 0600", fi.Mode().Perm())
	}
	recs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Destination != "dir:/a" || recs[1].Source != "adb:s1" {
		t.Fatalf("records = %+v", recs)
	}
	if recs[0].OK || recs[0].Problems != 1 || !recs[1].OK {
		t.Errorf("ok/problems lost: %+v", recs)
	}
}

func TestNoHistoryIsNoError(t *testing.T) {
	recs, err := Load(t.TempDir())
	if err != nil || recs != nil {
		t.Fatalf("Load of an empty state dir = %v, %v", recs, err)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := range MaxRecords + 6 {
		fmt.Fprintf(&b, `{"time":%q,"destination":"dir:/%d"}`+"\n", t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), i)
	}
	if err := os.WriteFile(Path(dir), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := save(dir, result("dir:/last"), "s", t0.Add(time.Hour*24)); err != nil {
		t.Fatal(err)
	}
	recs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != MaxRecords || recs[0].Destination != "dir:/7" || recs[len(recs)-1].Destination != "dir:/last" {
		t.Fatalf("%d records, first %q; want %d from dir:/7 to dir:/last", len(recs), recs[0].Destination, MaxRecords)
	}
}

func TestDamagedLineNamesFileAndLineButSaveRecovers(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, result("dir:/a"), "s"); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(Path(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{not json\n")
	f.Close()
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Base(Path(dir))+" line 2") {
		t.Fatalf("Load of a damaged file: %v", err)
	}
	if err := Save(dir, result("dir:/b"), "s"); err != nil {
		t.Fatal(err)
	}
	recs, err := Load(dir)
	if err != nil || len(recs) != 2 {
		t.Fatalf("after a save over a damaged file: %v, %v", recs, err)
	}
}

func TestLastByKindTakesNewestRowThatSawTheKind(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	recs := []Record{
		{Time: t0, Destination: "dir:/a", Rows: []verify.Row{{Kind: mapping.KindMedia, Source: 3, Missing: 1}, {Kind: mapping.KindContact, Source: 2, Destination: 2}}},
		{Time: t0.Add(time.Hour), Destination: "dir:/a", Rows: []verify.Row{{Kind: mapping.KindMedia, Source: 3, Destination: 3}, {Kind: mapping.KindContact}}},
		{Time: t0.Add(2 * time.Hour), Destination: "google", Rows: []verify.Row{{Kind: mapping.KindMessage, Source: 4, Different: 1}}},
	}
	got := LastByKind(recs)
	if len(got) != 3 {
		t.Fatalf("kinds = %v", got)
	}
	if m := got[mapping.KindMedia]; !m.Passed || !m.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("media = %+v, want the newer passing row", m)
	}
	if c := got[mapping.KindContact]; !c.Passed || !c.Time.Equal(t0) {
		t.Errorf("contacts = %+v: a verify whose source held none must not erase the older row", c)
	}
	if m := got[mapping.KindMessage]; m.Passed || m.Destination != "google" {
		t.Errorf("messages = %+v, want failed at google", m)
	}
	last := LastByDestination(recs)
	if len(last) != 2 || !last["dir:/a"].Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("LastByDestination = %v", last)
	}
}

func TestConcurrentSavesKeepEveryRecord(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- Save(dir, result(fmt.Sprintf("dir:/%d", i)), "s") }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	recs, err := Load(dir)
	if err != nil || len(recs) != n {
		t.Fatalf("%d records after %d concurrent saves (%v)", len(recs), n, err)
	}
	if _, err := os.Stat(Path(dir) + ".lock"); !os.IsNotExist(err) {
		t.Errorf("lock file left behind: %v", err)
	}
}

func TestStaleLockIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	lp := Path(dir) + ".lock"
	os.WriteFile(lp, nil, 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(lp, old, old)
	if err := Save(dir, result("dir:/a"), "s"); err != nil {
		t.Fatalf("save with a stale lock: %v", err)
	}
}

// A row a destination did not check is never a pass, and never hides a
// check of its kind at another destination, older or newer.
func TestLastByKindNotCheckedIsNeverAPass(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	card := Record{Time: t0.Add(time.Hour), Destination: "carddav:https://dav.example/", Rows: []verify.Row{
		{Kind: mapping.KindContact, Source: 2, Destination: 2}, {Kind: mapping.KindMedia, Source: 3, NotChecked: true}}}
	if m, ok := LastByKind([]Record{card})[mapping.KindMedia]; !ok || m.Passed || !m.Row.NotChecked {
		t.Errorf("media after only an address book's verify = %+v %v, want present, not passed", m, ok)
	}
	dir := Record{Time: t0, Destination: "dir:/a", Rows: []verify.Row{{Kind: mapping.KindMedia, Source: 3, Destination: 3}}}
	if m := LastByKind([]Record{dir, card})[mapping.KindMedia]; !m.Passed || m.Destination != "dir:/a" {
		t.Errorf("media = %+v, want the older real check at dir:/a", m)
	}
}
