// Package migrate is the whole of `miexit migrate` as a person sees it:
// pipeline.Migrate, then the verify recorded in the history `miexit
// checklist` reads, then report.html and the message pages. The CLI and the
// local web page (`miexit ui`) both call Run, so they do the same job and
// see the same history.
package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/report"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/internal/verifylog"
)

// reportHint follows a report that could not be written.
const reportHint = "(the copy and its verify are not affected; run the same command again to write it)"

// Outcome is what a migrate did, with what a person reads after it.
type Outcome struct {
	pipeline.MigrateResult
	// Summary is what happened to each kind at the destination, with the
	// reasons items were skipped (report.html's table).
	Summary  []report.Row     `json:"-"`
	Failures []report.Failure `json:"-"`
	// Pictures are the reduced copies and the media that failed, for
	// thumbnails.
	Pictures []report.Picture `json:"-"`
	// Report is report.html's path, "" when it was not written.
	Report string `json:"report,omitempty"`
	// Safe and NextStep are report.NextStep's verdict.
	Safe     bool   `json:"-"`
	NextStep string `json:"next_step,omitempty"`
	// Warnings say what was not saved besides the copy (the history, the
	// report); the copy and its verify are not affected by them.
	Warnings []string `json:"-"`
}

// Run exports from, imports to dst and verifies it (pipeline.Migrate with
// snapDir, "" for the default snapshot in the state dir), then, unless this
// is a dry run, records the verify for the checklist and writes the report.
// An error is returned only when the migrate itself failed; a verify with
// gaps is an Outcome whose Verify.OK is false.
func Run(ctx context.Context, from, dst, snapDir string, o pipeline.Options) (Outcome, error) {
	o.Fill()
	collector := report.NewCollector("import")
	o.Progress = progress.Multi(o.Progress, collector)
	res, err := pipeline.Migrate(ctx, from, dst, snapDir, o)
	out := Outcome{MigrateResult: res}
	if err != nil {
		return out, err
	}
	out.Summary = collector.Rows(&res.Export.Counts)
	out.Failures = collector.Failures()
	if o.DryRun {
		return out, nil
	}
	if err := RecordVerify(o.StateDir, from, res.Verify); err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	writeReport(ctx, from, &out, collector)
	return out, nil
}

// RecordVerify saves a verify result for `miexit checklist`. from is what
// the user verified from: a source, or a snapshot folder whose manifest
// names its source. The error says what it means for the checklist.
func RecordVerify(stateDir, from string, res verify.Result) error {
	if res.Destination == "" {
		return nil
	}
	source := from
	if r, err := snapshot.Open(from); err == nil && r.Source() != "" {
		source = r.Source()
	}
	if err := verifylog.Save(stateDir, res, source); err != nil {
		return fmt.Errorf("%w; `miexit checklist` will not know about this verify: check that the state dir is writable, then verify again", err)
	}
	return nil
}

// writeReport writes report.html and the readable message pages into the
// snapshot. A failure here costs the report, never the migration: it is a
// warning.
func writeReport(ctx context.Context, from string, out *Outcome, c *report.Collector) {
	res := out.MigrateResult
	snapDir := res.Export.Dir
	in := report.Report{
		Source: from, Destination: res.Import.Destination, Generated: time.Now(),
		Rows: out.Summary, Failures: out.Failures, Verify: &res.Verify,
		Thumbnails: res.Export.Counts.Thumbnails,
	}
	out.Safe, out.NextStep = report.NextStep(in)
	snap, snapErr := snapshot.Open(snapDir)
	if snapErr == nil {
		// A reused snapshot exported nothing: its manifest names the
		// reduced copies the banner points to.
		c.AddThumbnails(snap.ThumbnailItems())
	}
	in.Pictures = c.Pictures(LocalFolder(from), snapDir)
	warn := func(what string, err error) {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s: %v %s", what, err, reportHint))
	}
	if snapErr == nil {
		if res.Export.Counts.Messages > 0 {
			if err := report.WriteConversations(ctx, snap, filepath.Join(snapDir, "messages", "html")); err != nil {
				warn("message pages not written", err)
			}
		}
		if strings.HasPrefix(res.Import.Destination, "google:") && res.Export.Counts.Contacts > 0 {
			moved, err := report.MovedContacts(snap, 24)
			if err != nil {
				out.Warnings = append(out.Warnings, fmt.Sprintf("report: contacts not listed: %v", err))
			}
			in.Pictures = append(in.Pictures, moved...)
		}
	}
	out.Pictures = in.Pictures
	p := filepath.Join(snapDir, "report.html")
	f, err := fsutil.CreateTemp(p)
	if err != nil {
		warn("report not written", err)
		return
	}
	if err := report.WriteReport(f, in); err != nil {
		fsutil.Abort(f)
		warn("report not written", err)
		return
	}
	if err := fsutil.Commit(f, p, false); err != nil {
		warn("report not written", err)
		return
	}
	out.Report = p
}

// LocalFolder is the folder of an archive:PATH source on this computer,
// where the report finds the pictures it shows, or "".
func LocalFolder(from string) string {
	scheme, arg, _ := strings.Cut(from, ":")
	if scheme != "archive" {
		return ""
	}
	if st, err := os.Stat(arg); err != nil || !st.IsDir() {
		return ""
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return ""
	}
	return abs
}
