package ui

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/mapping"
)

// Bars draws one live bar per phase and kind with mpb: items done (of the
// total when known), bytes, rate and ETA. Safe for concurrent use.
type Bars struct {
	p *mpb.Progress

	mu     sync.Mutex
	bars   map[barKey]*kindBar
	totals map[mapping.Kind]int64
	closed bool
}

type barKey struct {
	phase string
	kind  mapping.Kind
}

type kindBar struct {
	bar   *mpb.Bar
	start time.Time
	// c is read by the decorators on mpb's goroutine and written under
	// Bars.mu, so it has its own lock.
	mu sync.Mutex
	c  counts
}

// NewBars returns bars drawn to w (normally a terminal).
func NewBars(w io.Writer, opts ...mpb.ContainerOption) *Bars {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithWidth(100), mpb.WithRefreshRate(150 * time.Millisecond)}, opts...)
	return &Bars{p: mpb.New(opts...), bars: map[barKey]*kindBar{}, totals: map[mapping.Kind]int64{}}
}

// SetTotal implements Progress.
func (b *Bars) SetTotal(k mapping.Kind, items int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.totals[k] = items
	for key, kb := range b.bars {
		if key.kind == k {
			kb.mu.Lock()
			kb.c.total = items
			cur := kb.c.items
			kb.mu.Unlock()
			kb.bar.SetTotal(max(items, cur), false)
		}
	}
}

// Report implements progress.Reporter.
func (b *Bars) Report(e progress.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	key := barKey{e.Phase, e.Kind}
	kb := b.bars[key]
	if kb == nil {
		kb = b.add(key)
		b.bars[key] = kb
	}
	kb.mu.Lock()
	countsFor(&kb.c, e)
	items, total := kb.c.items, kb.c.total
	kb.mu.Unlock()
	if total < items {
		// Unknown or exceeded total: the bar grows with the items so it
		// never claims to be done early.
		kb.bar.SetTotal(items, false)
	}
	kb.bar.Increment()
	if e.Action == progress.Failed {
		// Printed above the bars, so failures stay on screen.
		fmt.Fprintf(b.p, "%s: failed %s %s: %s\n", e.Phase, e.Kind, e.Item, e.Err)
	}
}

// add creates a bar; called with b.mu held. Created with total 0 so mpb
// never completes it by itself: Close does.
func (b *Bars) add(key barKey) *kindBar {
	kb := &kindBar{start: time.Now()}
	kb.c.total = b.totals[key.kind]
	name := fmt.Sprintf("%s %s", key.phase, key.kind)
	kb.bar = b.p.AddBar(0,
		mpb.PrependDecorators(
			decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace}),
			decor.Any(kb.itemsText, decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.Any(kb.bytesText, decor.WCSyncSpace),
			decor.AverageSpeed(nil, "%.1f/s", decor.WCSyncSpace),
			decor.OnComplete(decor.Meta(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), kb.etaText), "done"),
		),
	)
	if kb.c.total > 0 {
		kb.bar.SetTotal(kb.c.total, false)
	}
	return kb
}

func (kb *kindBar) itemsText(decor.Statistics) string {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	s := fmt.Sprintf("%d", kb.c.items)
	if kb.c.total > 0 {
		s += fmt.Sprintf("/%d", kb.c.total)
	}
	if kb.c.failed > 0 {
		s += fmt.Sprintf(" (%d failed)", kb.c.failed)
	}
	return s
}

// etaText hides the ETA while the total is unknown: it would only say
// how long until the bar catches up with itself.
func (kb *kindBar) etaText(s string) string {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if kb.c.total <= 0 {
		return ""
	}
	return s
}

func (kb *kindBar) bytesText(decor.Statistics) string {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if kb.c.bytes == 0 {
		return ""
	}
	s := HumanBytes(kb.c.bytes)
	if d := time.Since(kb.start).Seconds(); d > 0 {
		s += " " + HumanBytes(int64(float64(kb.c.bytes)/d)) + "/s"
	}
	return s
}

// Close completes every bar at its current count, draws them once more and
// waits for mpb to stop writing. Later events are dropped.
func (b *Bars) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, kb := range b.bars {
		kb.bar.SetTotal(-1, true)
	}
	b.mu.Unlock()
	b.p.Wait()
	return nil
}
