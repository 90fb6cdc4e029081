// Package verifylog keeps the history of verify results in the state dir,
// so `miexit checklist` can say, long after the run, what verify last found
// for each kind of data at each destination.
package verifylog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/statedir"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// FileName is the history file inside the state dir: one JSON record a line.
const FileName = "verify-history.jsonl"

// MaxRecords bounds the history: older records are dropped first. A record
// is a few hundred bytes, so the file stays well under a megabyte.
const MaxRecords = 500

// Record is one verify run.
type Record struct {
	Time        time.Time    `json:"time"`
	Source      string       `json:"source"`
	Destination string       `json:"destination"`
	OK          bool         `json:"ok"`
	Rows        []verify.Row `json:"rows"`
	// Problems counts the items named missing or different; the names
	// themselves stay out of the history (they can be thousands).
	Problems int `json:"problems"`
	// Reduced: photos the source held only as reduced copies (see
	// verify.Result.Reduced).
	Reduced int `json:"reduced,omitempty"`
}

// Path is the history file of a state dir ("" means statedir.State()).
func Path(stateDir string) string {
	if stateDir == "" {
		stateDir = statedir.State()
	}
	return filepath.Join(stateDir, FileName)
}

// Save appends res, verified from source, to the history in stateDir ("" =
// statedir.State()). The file is rewritten atomically with mode 0600 (it
// names the person's sources and destinations) and keeps the newest
// MaxRecords records. Lines it cannot read are dropped rather than
// blocking the save.
func Save(stateDir string, res verify.Result, source string) error {
	return save(stateDir, res, source, time.Now())
}

func save(stateDir string, res verify.Result, source string, now time.Time) error {
	p := Path(stateDir)
	unlock, err := lock(p)
	if err != nil {
		return err
	}
	defer unlock()
	recs, _ := read(p, true)
	recs = append(recs, Record{
		Time: now.UTC(), Source: source, Destination: res.Destination,
		OK: res.OK, Rows: res.Rows, Problems: len(res.Problems), Reduced: res.Reduced,
	})
	if n := len(recs) - MaxRecords; n > 0 {
		recs = recs[n:]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("verify history %s: %w", p, err)
		}
	}
	// fsutil's temp files are created 0600 by os.CreateTemp, and the rename
	// keeps that mode.
	if err := fsutil.WriteFile(p, buf.Bytes(), true); err != nil {
		return fmt.Errorf("save verify history %s: %w", p, err)
	}
	return nil
}

// lock keeps two miexit runs (a scheduled backup and a verify by hand)
// from each rewriting the history without the other's record. A lock file
// works the same on every OS; one left by a killed run is taken over once
// it is older than any save can take.
func lock(p string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("save verify history: %w", err)
	}
	lp := p + ".lock"
	for try := 0; ; try++ {
		f, err := os.OpenFile(lp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(lp) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("save verify history: %w", err)
		}
		if fi, err := os.Stat(lp); err == nil && time.Since(fi.ModTime()) > staleLock {
			os.Remove(lp)
			continue
		}
		if try >= lockTries {
			return nil, fmt.Errorf("save verify history: %s is held by another miexit run; if none is running, delete it", lp)
		}
		time.Sleep(lockWait)
	}
}

const (
	staleLock = 30 * time.Second
	lockTries = 250
	lockWait  = 20 * time.Millisecond
)

// Load reads the history of stateDir ("" = statedir.State()), oldest
// first. No file means no history (nil, nil). A damaged line is an error
// naming the file and the line.
func Load(stateDir string) ([]Record, error) {
	return read(Path(stateDir), false)
}

func read(p string, lenient bool) ([]Record, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read verify history: %w", err)
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			if lenient {
				continue
			}
			return recs, fmt.Errorf("%w: verify history %s line %d: %v (delete the file and run `miexit verify` again)", mapping.ErrBadInput, p, line, err)
		}
		recs = append(recs, r)
		if len(recs) > MaxRecords {
			recs = recs[1:]
		}
	}
	if err := sc.Err(); err != nil && !lenient {
		return recs, fmt.Errorf("read verify history %s: %w", p, err)
	}
	slices.SortStableFunc(recs, func(a, b Record) int { return a.Time.Compare(b.Time) })
	return recs, nil
}

// LastByDestination returns the newest record for each destination.
func LastByDestination(recs []Record) map[string]Record {
	out := map[string]Record{}
	for _, r := range recs {
		if old, ok := out[r.Destination]; !ok || !r.Time.Before(old.Time) {
			out[r.Destination] = r
		}
	}
	return out
}

// Unsettled returns, for each source whose newest verify that speaks of
// photos (a media row with items, or reduced copies) counted reduced
// copies, that record, oldest first. A later verify from Mi Cloud
// (micloud:), where the Cloud Album keeps the originals, settles every
// source's; a verify of contacts alone settles nothing.
func Unsettled(recs []Record) []Record {
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b Record) int { return a.Time.Compare(b.Time) })
	newest := map[string]Record{}
	var order []string
	for _, r := range recs {
		photos := r.Reduced > 0 || slices.ContainsFunc(r.Rows, func(row verify.Row) bool {
			return row.Kind == mapping.KindMedia && row.Source > 0 && !row.NotChecked
		})
		if !photos {
			continue
		}
		if strings.HasPrefix(r.Source, "micloud:") && r.Reduced == 0 && r.OK {
			clear(newest)
			order = order[:0]
			continue
		}
		if _, ok := newest[r.Source]; !ok {
			order = append(order, r.Source)
		}
		newest[r.Source] = r
	}
	var out []Record
	for _, src := range order {
		if r, ok := newest[src]; ok && r.Reduced > 0 {
			out = append(out, r)
		}
	}
	return out
}

// KindResult is what the newest verify that saw a kind said about it.
type KindResult struct {
	Kind        mapping.Kind `json:"kind"`
	Time        time.Time    `json:"time"`
	Source      string       `json:"source"`
	Destination string       `json:"destination"`
	Row         verify.Row   `json:"row"`
	// Passed: nothing of this kind was missing or different.
	Passed bool `json:"passed"`
}

// LastByKind returns, for each kind some verify found in its source, the
// newest record's row for it. Kinds no source ever held are absent: there
// is nothing of them to lose. A row a destination did not check (photos
// at an address book) is never a pass, and never hides a check of that
// kind elsewhere: it counts only for a kind no verify ever checked, and
// then as not passed.
func LastByKind(recs []Record) map[mapping.Kind]KindResult {
	out := map[mapping.Kind]KindResult{}
	for _, r := range recs {
		for _, row := range r.Rows {
			if row.Source == 0 || row.NotChecked {
				continue
			}
			if old, ok := out[row.Kind]; ok && r.Time.Before(old.Time) {
				continue
			}
			out[row.Kind] = KindResult{
				Kind: row.Kind, Time: r.Time, Source: r.Source, Destination: r.Destination,
				Row: row, Passed: row.Missing == 0 && row.Different == 0,
			}
		}
	}
	for _, r := range recs {
		for _, row := range r.Rows {
			if row.Source == 0 || !row.NotChecked {
				continue
			}
			if old, ok := out[row.Kind]; ok && (!old.Row.NotChecked || r.Time.Before(old.Time)) {
				continue
			}
			out[row.Kind] = KindResult{Kind: row.Kind, Time: r.Time, Source: r.Source, Destination: r.Destination, Row: row}
		}
	}
	return out
}
