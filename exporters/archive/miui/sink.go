package miui

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// SnapshotSink hands everything to a snapshot writer.
func SnapshotSink(w *snapshot.Writer) Sink { return writerSink{w} }

type writerSink struct{ w *snapshot.Writer }

func (s writerSink) Contact(ctx context.Context, c mapping.Contact) error {
	return s.w.AddContact(ctx, c)
}
func (s writerSink) Message(ctx context.Context, m mapping.Message) error {
	return s.w.AddMessage(ctx, m)
}
func (s writerSink) Call(ctx context.Context, c mapping.Call) error { return s.w.AddCall(ctx, c) }
func (s writerSink) Note(ctx context.Context, n mapping.Note) error { return s.w.AddNote(ctx, n) }
func (s writerSink) File(ctx context.Context, rel string, r io.Reader, mod time.Time) (mapping.Entry, error) {
	return s.w.AddFile(ctx, rel, r, mod)
}

// Counter is a Sink for an inventory without a snapshot writer: it writes
// nothing and counts items by key, as the snapshot writer de-duplicates
// them, so its Counts equal what an export of the same backups adds. (A
// dry-run snapshot.Writer behind SnapshotSink gives the same counts.) Use
// one Counter for all the .bak files of a source. Safe for concurrent use.
type Counter struct {
	mu     sync.Mutex
	keys   map[mapping.Kind]map[string]bool
	counts mapping.Counts
	files  int
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter { return &Counter{keys: map[mapping.Kind]map[string]bool{}} }

func (c *Counter) add(k mapping.Kind, key string) error {
	c.Add(k, key)
	return nil
}

// Add counts an item of kind k found elsewhere in the same source (a .vcf
// beside the backups), so that an item present in both is counted once,
// as the snapshot writer stores it once. It reports whether key was new.
func (c *Counter) Add(k mapping.Kind, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.keys[k]
	if m == nil {
		m = map[string]bool{}
		c.keys[k] = m
	}
	if m[key] {
		return false
	}
	m[key] = true
	c.counts.Add(k, 1)
	return true
}

// Counts returns the distinct items seen so far.
func (c *Counter) Counts() mapping.Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts
}

// Files is how many attachments were seen.
func (c *Counter) Files() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.files
}

func (c *Counter) Contact(ctx context.Context, ct mapping.Contact) error {
	return c.add(mapping.KindContact, ct.Key)
}
func (c *Counter) Message(ctx context.Context, m mapping.Message) error {
	if m.Key == "" {
		m.Key = mapping.MessageKey(&m)
	}
	return c.add(mapping.KindMessage, m.Key)
}
func (c *Counter) Call(ctx context.Context, cl mapping.Call) error {
	if cl.Key == "" {
		cl.Key = mapping.CallKey(&cl)
	}
	return c.add(mapping.KindCall, cl.Key)
}
func (c *Counter) Note(ctx context.Context, n mapping.Note) error {
	return c.add(mapping.KindNote, n.Key)
}
func (c *Counter) File(ctx context.Context, rel string, r io.Reader, mod time.Time) (mapping.Entry, error) {
	c.mu.Lock()
	c.files++
	c.mu.Unlock()
	return mapping.Entry{Kind: mapping.KindFile, Key: rel, Path: rel, Modified: mod}, nil
}
