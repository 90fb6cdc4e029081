// Package progress carries what the pipeline does, item by item, to whoever
// shows it: a terminal, JSON lines, a summary table, a test.
package progress

import (
	"sync"

	"github.com/miexit/miexit/mapping"
)

// Action is what happened to one item.
type Action string

const (
	Copied        Action = "copied"         // written at the destination (or into the snapshot)
	Unchanged     Action = "unchanged"      // already there, left alone
	Duplicate     Action = "duplicate"      // same key seen twice in one run; kept once
	WouldCopy     Action = "would-copy"     // --dry-run
	Thumbnail     Action = "thumbnail"      // a reduced copy: counted, not taken for an original
	NotUnderstood Action = "not-understood" // a file miexit cannot read; listed, not copied
	Skipped       Action = "skipped"        // left out for a reason given in Event.Err
	Failed        Action = "failed"
)

// Event is one item's outcome in one phase.
type Event struct {
	Phase  string       `json:"phase"` // export, import, verify
	Kind   mapping.Kind `json:"kind,omitempty"`
	Item   string       `json:"item,omitempty"`
	Action Action       `json:"action"`
	Bytes  int64        `json:"bytes,omitempty"`
	Err    string       `json:"error,omitempty"`
}

// Reporter receives events. Implementations must be safe for concurrent use:
// exporters and importers report from several goroutines.
type Reporter interface {
	Report(Event)
}

// Func adapts a function to a Reporter.
type Func func(Event)

func (f Func) Report(e Event) { f(e) }

// Discard drops every event.
var Discard Reporter = Func(func(Event) {})

// Multi sends every event to each reporter in turn.
func Multi(rs ...Reporter) Reporter {
	return Func(func(e Event) {
		for _, r := range rs {
			if r != nil {
				r.Report(e)
			}
		}
	})
}

// Tally counts events by phase, kind and action.
type Tally struct {
	mu     sync.Mutex
	counts map[tallyKey]int
	bytes  map[string]int64
}

type tallyKey struct {
	Phase  string
	Kind   mapping.Kind
	Action Action
}

// Report implements Reporter.
func (t *Tally) Report(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = map[tallyKey]int{}
		t.bytes = map[string]int64{}
	}
	t.counts[tallyKey{e.Phase, e.Kind, e.Action}]++
	if e.Action == Copied {
		t.bytes[e.Phase] += e.Bytes
	}
}

// Count returns how many events matched phase, kind and action; an empty
// kind matches every kind.
func (t *Tally) Count(phase string, kind mapping.Kind, a Action) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, v := range t.counts {
		if k.Phase == phase && k.Action == a && (kind == "" || k.Kind == kind) {
			n += v
		}
	}
	return n
}

// Bytes returns the bytes copied in a phase.
func (t *Tally) Bytes(phase string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bytes[phase]
}
