package ui

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/mapping"
)

// JSON writes each event as one JSON object per line, for --json. Safe for
// concurrent use; lines never interleave.
type JSON struct {
	mu     sync.Mutex
	enc    *json.Encoder
	closed bool
}

// NewJSON returns a JSON-lines reporter writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Report implements progress.Reporter. A write error drops the event:
// progress output must never stop a copy.
func (j *JSON) Report(e progress.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.closed {
		j.enc.Encode(e)
	}
}

// SetTotal implements Progress; totals are not events, so nothing is written.
func (j *JSON) SetTotal(mapping.Kind, int64) {}

// Close stops writing; the caller writes its own summary object after it.
func (j *JSON) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	return nil
}
