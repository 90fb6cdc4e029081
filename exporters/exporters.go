// Package exporters defines what a source of a person's data must do, and
// keeps the registry of source schemes ("archive:", "adb:", "micloud:").
package exporters

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// An Exporter reads one source and writes what it finds into a snapshot.
//
// Invariants callers rely on:
//   - Inventory copies nothing and writes nothing; its counts equal what
//     Export adds to a snapshot from the same, unchanged source.
//   - Export streams: it never holds a whole photo library, message store
//     or archive in memory, whatever the source's size.
//   - Export is safe to re-run into the same snapshot: items get the same
//     keys every time, and unchanged media are not read again.
//   - Export adds items in a deterministic order for an unchanged source.
//   - Both honour ctx: when it ends they return promptly with its error.
//   - Errors about the source's content wrap mapping.ErrBadInput and name
//     the file or item; a bad item the exporter can skip is reported, not
//     fatal.
type Exporter interface {
	// Name is a short name for the source, used for default folder names
	// ("sample", the phone's serial).
	Name() string
	Inventory(ctx context.Context) (mapping.Counts, error)
	Export(ctx context.Context, w *snapshot.Writer) error
}

// Params are what every exporter constructor receives.
type Params struct {
	// Arg is the part of the source string after "scheme:".
	Arg string
	// Password unlocks encrypted backups.
	Password string
	// StateDir and ConfigDir hold miexit's state and tokens.
	StateDir  string
	ConfigDir string
	Log       *slog.Logger
	// Concurrency is how many files a networked source downloads at once
	// (--jobs); 0 leaves the exporter's default. An exporter may cap it
	// at what its service tolerates, and one that reads local files may
	// ignore it.
	Concurrency int
}

// Factory builds an exporter from its parameters.
type Factory func(ctx context.Context, p Params) (Exporter, error)

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a scheme available. Packages call it from init.
func Register(scheme string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("exporters: scheme registered twice: " + scheme)
	}
	registry[scheme] = f
}

// Schemes lists the registered schemes.
func Schemes() []string {
	mu.RLock()
	defer mu.RUnlock()
	var s []string
	for k := range registry {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Open builds the exporter for a source string such as "archive:backup.zip"
// or "adb:SERIAL". Unknown schemes wrap mapping.ErrBadInput.
func Open(ctx context.Context, src string, p Params) (Exporter, error) {
	scheme, arg, _ := strings.Cut(src, ":")
	mu.RLock()
	f := registry[scheme]
	mu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("%w: unknown source %q (known: %s)", mapping.ErrBadInput, src, strings.Join(Schemes(), ", "))
	}
	p.Arg = arg
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	e, err := f(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src, err)
	}
	return e, nil
}

// An ExtraCounter is an Exporter that knows counts beyond mapping.Counts
// (Mi Cloud's recordings, or the messages that exist only in the cloud);
// inventory shows them next to the standard ones.
type ExtraCounter interface {
	ExtraCounts(ctx context.Context) (map[string]int, error)
}

// A Stater is an Exporter that can tell cheaply whether its source changed
// since an export: State returns a token that differs whenever anything
// the export would read differs (for a folder, any file's path, size or
// modification time), or "" when it cannot tell. An export whose token is
// the one its snapshot recorded may reuse that snapshot without reading
// the source.
type Stater interface {
	State(ctx context.Context) (string, error)
}

// A Noticer is an Exporter with facts a person must know about what it
// cannot see (the phone hides draft SMS from ADB); inventory shows them.
type Noticer interface {
	Notices() []string
}
