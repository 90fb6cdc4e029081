package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// Row is one kind's line of the summary table.
type Row struct {
	Kind      mapping.Kind
	Found     int
	Copied    int
	Unchanged int // already there
	Skipped   int
	Failed    int
	Reasons   []Reason // why items were skipped, most frequent first
}

// Reason counts the items skipped for one reason.
type Reason struct {
	Reason string
	Count  int
}

// Failure names one item that failed.
type Failure struct {
	Kind mapping.Kind
	Item string
	Err  string
}

// Report is what report.html shows.
type Report struct {
	Source      string
	Destination string
	Generated   time.Time
	Rows        []Row
	Failures    []Failure
	// Pictures are shown as thumbnails (decoded one at a time, embedded
	// as small JPEGs).
	Pictures []Picture
	// Verify is nil when verify has not run; then it is not safe to sign out.
	Verify *verify.Result
	// Thumbnails counts photos the source holds only as reduced copies:
	// their originals may exist only in Mi Cloud.
	Thumbnails int
}

// NextStep says in words what to do next, and whether it is safe to sign
// out of Mi Cloud: only when verify ran, passed and covered every kind the
// summary found, and nothing failed.
func NextStep(in Report) (safe bool, text string) {
	failed := 0
	for _, r := range in.Rows {
		failed += r.Failed
	}
	switch {
	case in.Verify == nil:
		return false, "Not safe to sign out yet: verify has not run. Run miexit verify against the destination, and sign out of Mi Cloud only when it passes for every kind."
	case !in.Verify.OK && len(in.Verify.Problems) == 0 && len(in.Verify.Unchecked) > 0:
		return false, fmt.Sprintf("Not safe to sign out yet: %s does not take %s, so verify did not check them and they are copied nowhere yet. Copy them to another destination (dir:, webdav:, ...) and verify there.", in.Verify.Destination, in.Verify.Unchecked)
	case !in.Verify.OK:
		n := len(in.Verify.Problems)
		return false, fmt.Sprintf("Not safe to sign out yet: verify found %d missing or different item(s). Run the import again, then verify; sign out of Mi Cloud only when verify passes for every kind.", n)
	case failed > 0:
		return false, fmt.Sprintf("Not safe to sign out yet: %d item(s) failed to copy. Run the import again, then verify.", failed)
	}
	verified := map[mapping.Kind]bool{}
	for _, r := range in.Verify.Rows {
		verified[r.Kind] = !r.NotChecked
	}
	for _, r := range in.Rows {
		if r.Found > 0 && !verified[r.Kind] {
			return false, fmt.Sprintf("Not safe to sign out yet: verify did not check %s. Run miexit verify for every kind.", r.Kind)
		}
	}
	if in.Thumbnails > 0 {
		return false, fmt.Sprintf("Not safe to sign out yet: verify passed, but %d photo(s) are only reduced copies here (listed under Pictures); their originals may be only in Mi Cloud. Copy them with miexit migrate --from micloud (or from the phone's Gallery after downloading the originals), then sign out.", in.Thumbnails)
	}
	return true, "Verify passed for every kind: it is safe to turn off each Mi Cloud sync toggle, then sign out of the Mi account."
}

// WriteReport renders a self-contained report.html (inline CSS, no network)
// to w.
func WriteReport(w io.Writer, in Report) error {
	safe, next := NextStep(in)
	gen := ""
	if !in.Generated.IsZero() {
		gen = in.Generated.Format("2006-01-02 15:04 MST")
	}
	err := reportTmpl.Execute(w, map[string]any{
		"Source": in.Source, "Destination": in.Destination, "Generated": gen,
		"Safe": safe, "Next": next, "Rows": in.Rows, "Failures": in.Failures, "Verify": in.Verify,
		"Pictures": thumbs(in.Pictures), "Thumbnails": in.Thumbnails,
	})
	if err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	return nil
}

// maxFailures bounds the failures a Collector keeps, so a run where
// everything fails does not grow memory; counts stay exact.
const maxFailures = 1000

// Collector is a progress.Reporter that gathers one phase's events into
// summary rows, keeping skip reasons and the first failures. Safe for
// concurrent use.
type Collector struct {
	Phase string // events of other phases are ignored; "" takes all

	mu       sync.Mutex
	rows     map[mapping.Kind]*Row
	reasons  map[mapping.Kind]map[string]int
	failures []Failure
	// docs holds what happened to the shared documents (contacts.vcf,
	// messages.jsonl), which is what happened to their records at a
	// destination that copies files.
	docs map[string]progress.Action
	// thumbs are the first reduced copies the export met, of any phase.
	thumbs []string
}

// maxPictures bounds the pictures a report shows of each sort.
const maxPictures = 24

// NewCollector collects the events of phase ("export", "import").
func NewCollector(phase string) *Collector { return &Collector{Phase: phase} }

// Report implements progress.Reporter.
func (c *Collector) Report(e progress.Event) {
	if e.Action == progress.Thumbnail {
		c.mu.Lock()
		if len(c.thumbs) < maxPictures {
			c.thumbs = append(c.thumbs, e.Item)
		}
		c.mu.Unlock()
	}
	if c.Phase != "" && e.Phase != c.Phase {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = map[mapping.Kind]*Row{}
		c.reasons = map[mapping.Kind]map[string]int{}
		c.docs = map[string]progress.Action{}
	}
	if e.Kind == mapping.KindFile {
		switch e.Item {
		case snapshot.ContactsPath, snapshot.MessagesPath, snapshot.CallsPath:
			c.docs[e.Item] = e.Action
		}
	}
	r := c.rows[e.Kind]
	if r == nil {
		r = &Row{Kind: e.Kind}
		c.rows[e.Kind] = r
	}
	switch e.Action {
	case progress.Copied, progress.WouldCopy:
		r.Copied++
	case progress.Unchanged, progress.Duplicate:
		r.Unchanged++
	case progress.Skipped, progress.Thumbnail, progress.NotUnderstood:
		r.Skipped++
		why := e.Err
		if why == "" {
			why = string(e.Action)
		}
		if c.reasons[e.Kind] == nil {
			c.reasons[e.Kind] = map[string]int{}
		}
		// Distinct reasons are bounded too: past the cap they pool.
		if _, ok := c.reasons[e.Kind][why]; !ok && len(c.reasons[e.Kind]) >= 50 {
			why = "other reasons"
		}
		c.reasons[e.Kind][why]++
	case progress.Failed:
		r.Failed++
		if len(c.failures) < maxFailures {
			c.failures = append(c.failures, Failure{Kind: e.Kind, Item: e.Item, Err: e.Err})
		}
	}
}

// AddThumbnails takes the reduced copies a snapshot names (see
// snapshot.Reader.ThumbnailItems) as if the export had reported them: a
// snapshot reused as it is exports nothing, and its report must still list
// the pictures its banner points to.
func (c *Collector) AddThumbnails(items []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		if len(c.thumbs) >= maxPictures {
			return
		}
		if !slices.Contains(c.thumbs, it) {
			c.thumbs = append(c.thumbs, it)
		}
	}
}

// Rows returns one row per kind in mapping.Kinds order (then any other kind
// seen), with Found from found when given (a snapshot's Counts), else the
// number of events seen.
func (c *Collector) Rows(found *mapping.Counts) []Row {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Row
	seen := map[mapping.Kind]bool{}
	add := func(k mapping.Kind) {
		seen[k] = true
		r, ok := c.rows[k]
		var row Row
		if ok {
			row = *r
		}
		row.Kind = k
		if found != nil && k != mapping.KindFile {
			row.Found = found.Of(k)
			if doc := snapshot.Document(k); !ok && doc != "" {
				// No event per record: the destination copied their
				// document whole.
				switch c.docs[doc] {
				case progress.Copied, progress.WouldCopy:
					row.Copied = row.Found
				case progress.Unchanged:
					row.Unchanged = row.Found
				}
			}
		} else {
			row.Found = row.Copied + row.Unchanged + row.Skipped + row.Failed
		}
		for why, n := range c.reasons[k] {
			row.Reasons = append(row.Reasons, Reason{Reason: why, Count: n})
		}
		slices.SortFunc(row.Reasons, func(a, b Reason) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
		})
		if !ok && row.Found == 0 {
			return
		}
		out = append(out, row)
	}
	for _, k := range mapping.Kinds {
		add(k)
	}
	var rest []mapping.Kind
	for k := range c.rows {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		add(k)
	}
	return out
}

// Pictures lists what a person should look at, as thumbnails: the reduced
// copies the source holds instead of originals (found under sourceRoot,
// when the source is a folder on this computer; else named only), and the
// media that failed to copy (from the snapshot in snapDir).
func (c *Collector) Pictures(sourceRoot, snapDir string) []Picture {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Picture
	for _, item := range c.thumbs {
		p := Picture{Title: item, Note: "only a reduced copy is here; get the original from Mi Cloud (Gallery) or the phone before signing out"}
		if sourceRoot != "" {
			if f, err := fsutil.Join(sourceRoot, item); err == nil {
				p.File = f
			}
		}
		out = append(out, p)
	}
	n := 0
	for _, f := range c.failures {
		if f.Kind != mapping.KindMedia || n == maxPictures {
			continue
		}
		n++
		p := Picture{Title: f.Item, Note: "failed to copy: " + f.Err}
		if file, err := fsutil.Join(snapDir, f.Item); err == nil {
			p.File = file
		}
		out = append(out, p)
	}
	return out
}

// Failures returns the failures kept (at most 1000).
func (c *Collector) Failures() []Failure {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.failures)
}
