// Package ui shows progress to a person: live bars per kind on a terminal,
// plain periodic lines anywhere else (a log file, CI, a cron mail).
package ui

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/mapping"
)

// Progress is a progress.Reporter that must be closed once the run ends:
// Close draws the final state and returns when nothing more will be
// written to the output.
type Progress interface {
	progress.Reporter
	// SetTotal tells how many items of kind k are expected (from a
	// snapshot's or an inventory's counts), for the bar's length and ETA.
	// Unknown totals are fine: bars then grow as items come.
	SetTotal(k mapping.Kind, items int64)
	Close() error
}

// Options tunes New.
type Options struct {
	// Every and EveryItems pace the plain reporter: a line when this much
	// time or this many items passed since the last one. Defaults 10 s
	// and 1000 items.
	Every      time.Duration
	EveryItems int
}

// New returns live bars when w is a terminal, plain lines otherwise.
func New(w io.Writer, opt Options) Progress {
	if IsTerminal(w) {
		return NewBars(w)
	}
	return NewPlain(w, opt)
}

// IsTerminal reports whether w is a terminal (an *os.File on a tty).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	if _, isFile := w.(*os.File); !isFile {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// counts is one kind's running tally.
type counts struct {
	items, failed, skipped int64
	bytes                  int64
	total                  int64
}

// countsFor adds one event: each event is one item's outcome.
func countsFor(c *counts, e progress.Event) {
	c.items++
	c.bytes += e.Bytes
	switch e.Action {
	case progress.Failed:
		c.failed++
	case progress.Skipped, progress.NotUnderstood:
		c.skipped++
	}
}

// Plain writes a line per phase every Every or EveryItems, a line for each
// failure as it happens, and a final line on Close. Safe for concurrent use.
type Plain struct {
	w     io.Writer
	every time.Duration
	items int
	now   func() time.Time

	mu      sync.Mutex
	start   time.Time
	last    time.Time
	since   int
	phase   string
	kinds   map[mapping.Kind]*counts
	closed  bool
	written bool
}

// NewPlain returns a plain-line reporter writing to w.
func NewPlain(w io.Writer, opt Options) *Plain {
	if opt.Every <= 0 {
		opt.Every = 10 * time.Second
	}
	if opt.EveryItems <= 0 {
		opt.EveryItems = 1000
	}
	return &Plain{w: w, every: opt.Every, items: opt.EveryItems, now: time.Now, kinds: map[mapping.Kind]*counts{}}
}

// SetTotal implements Progress.
func (p *Plain) SetTotal(k mapping.Kind, items int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kind(k).total = items
}

func (p *Plain) kind(k mapping.Kind) *counts {
	c := p.kinds[k]
	if c == nil {
		c = &counts{}
		p.kinds[k] = c
	}
	return c
}

// Report implements progress.Reporter.
func (p *Plain) Report(e progress.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	now := p.now()
	if p.start.IsZero() {
		p.start, p.last = now, now
	}
	if e.Phase != p.phase && p.phase != "" {
		// A new phase: close the old one's tally with a line of its own,
		// unless the last line already said it all.
		if p.since > 0 {
			p.line(now)
		}
		p.kinds = map[mapping.Kind]*counts{}
		p.start, p.since = now, 0
	}
	p.phase = e.Phase
	countsFor(p.kind(e.Kind), e)
	p.since++
	if e.Action == progress.Failed {
		fmt.Fprintf(p.w, "%s: failed %s %s: %s\n", e.Phase, e.Kind, e.Item, e.Err)
	}
	if p.since >= p.items || now.Sub(p.last) >= p.every {
		p.line(now)
	}
}

// line writes "phase: kind n[/total] (bytes, rate) ..., failed n". Called
// with mu held.
func (p *Plain) line(now time.Time) {
	if len(p.kinds) == 0 {
		return
	}
	var parts []string
	for _, k := range sortedKinds(p.kinds) {
		c := p.kinds[k]
		if c.items == 0 {
			continue
		}
		s := fmt.Sprintf("%s %d", k, c.items)
		if c.total > 0 {
			s += fmt.Sprintf("/%d", c.total)
		}
		if c.bytes > 0 {
			s += " (" + HumanBytes(c.bytes)
			if d := now.Sub(p.start).Seconds(); d > 0 {
				s += ", " + HumanBytes(int64(float64(c.bytes)/d)) + "/s"
			}
			s += ")"
		}
		if c.skipped > 0 {
			s += fmt.Sprintf(", %d skipped", c.skipped)
		}
		if c.failed > 0 {
			s += fmt.Sprintf(", %d failed", c.failed)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return
	}
	fmt.Fprintf(p.w, "%s: %s\n", p.phase, strings.Join(parts, "; "))
	p.last, p.since, p.written = now, 0, true
}

// Close writes the final line. Later events are dropped.
func (p *Plain) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if p.since > 0 || !p.written {
		p.line(p.now())
	}
	return nil
}

func sortedKinds[V any](m map[mapping.Kind]V) []mapping.Kind {
	ks := make([]mapping.Kind, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	order := func(k mapping.Kind) int {
		if i := slices.Index(mapping.Kinds, k); i >= 0 {
			return i
		}
		return len(mapping.Kinds)
	}
	slices.SortFunc(ks, func(a, b mapping.Kind) int {
		if d := order(a) - order(b); d != 0 {
			return d
		}
		return strings.Compare(string(a), string(b))
	})
	return ks
}

// HumanBytes formats n in binary units ("1.5 MiB").
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
