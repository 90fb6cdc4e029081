// Package importers defines what a destination must do, and keeps the
// registry of destination schemes ("dir:", "google", "dropbox:").
package importers

import (
	"context"
	"fmt"
	"hash"
	"iter"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// An Importer makes a destination hold what a snapshot holds.
//
// Invariants callers rely on:
//   - Import is idempotent: a second run over the same snapshot writes
//     nothing and creates no duplicates.
//   - Import resumes: after a crash or a cancelled ctx at any point, the
//     next run finishes the job without duplicates. The ledger is a cache
//     that may have lost its last writes (it flushes in batches) or be
//     stale (someone deleted a remote file); Import checks the destination
//     before trusting it where a wrong guess would duplicate or lose data.
//   - Import never overwrites a destination file it did not write without
//     keeping the old one, and never leaves a partial file under a final
//     name.
//   - Import streams file contents; memory does not grow with file sizes.
//   - Import reports each item's outcome to the progress.Reporter (phase
//     "import") and, with DryRun, writes nothing and reports WouldCopy.
//   - List reads what the destination really holds (never the ledger), for
//     verify. It yields Remote.Path for whole-file kinds (media, notes,
//     files) and Remote.Key for record kinds (contacts, messages, calls).
//   - Ledger records are keyed by Entry.Path for whole files and Entry.Key
//     for records, so verify can forget what it found missing, in the
//     bucket LedgerKey names.
type Importer interface {
	// Name identifies the destination in reports and, with the account
	// for an Accounter, in the ledger (see LedgerKey):
	// "dir:/home/me/backup", "dropbox:/miexit/sample".
	Name() string
	Import(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error
	List(ctx context.Context, kind mapping.Kind) iter.Seq2[mapping.Remote, error]
}

// A Hasher is an Importer whose List fills Remote.Hash with its own
// checksum instead of Remote.SHA256; verify computes the same checksum from
// the snapshot to compare. Remote.Hash is the lower-case hex of the sum,
// unless the importer is also a HashEncoder.
type Hasher interface {
	NewHash() hash.Hash
}

// A HashEncoder writes checksums in the destination's own form (OneDrive's
// quickXorHash is base64).
type HashEncoder interface {
	EncodeHash(sum []byte) string
}

// A WrittenLister is an Importer that can list what it holds without
// reading file contents back: where a file's size and modification time
// are those the ledger recorded when this importer wrote it, the checksum
// it computed while writing stands. migrate's own final check uses it, so
// a migrate does not read every byte a third time; a standalone
// `miexit verify` always reads and hashes everything.
type WrittenLister interface {
	ListWritten(ctx context.Context, kind mapping.Kind, led *ledger.Ledger) iter.Seq2[mapping.Remote, error]
}

// A KindsLister is an Importer that reads its whole destination to list
// any one whole-file kind (a recursive listing, with the kind told by
// each path), so that verify would read it once per kind: it lists
// several kinds in that one reading. It yields what List would for each
// of kinds (Remote.Kind says which), or with led not nil what
// ListWritten would.
type KindsLister interface {
	ListKinds(ctx context.Context, kinds []mapping.Kind, led *ledger.Ledger) iter.Seq2[mapping.Remote, error]
}

// An Accounter is an Importer that writes into one account of a service
// and can name it. Account returns the account's stable identity as the
// service gives it (a Drive user's permissionId, a Dropbox account_id, a
// OneDrive drive id): the same for the account whatever its files, another
// for another account. An importer looks it up at most once per run.
//
// The ledger is kept per account (LedgerKey): after signing in to another
// account with the same destination string, the old account's records do
// not claim files the new one has never held, and they are still there if
// the person switches back.
type Accounter interface {
	Account(ctx context.Context) (string, error)
}

// LedgerKey names imp's records in the ledger: Name(), and for an
// Accounter, the account too. Importers, verify and anything else reading
// or forgetting imp's records use it, never Name() alone.
//
// A destination that is not an Accounter (a local folder) is keyed by its
// Name, which names the place itself: there is no account, and an importer
// of that kind must check the place before trusting a record (dir does, by
// size and mtime).
func LedgerKey(ctx context.Context, imp Importer) (string, error) {
	a, ok := imp.(Accounter)
	if !ok {
		return imp.Name(), nil
	}
	id, err := a.Account(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: which account: %w", imp.Name(), err)
	}
	if id == "" {
		return "", fmt.Errorf("%s: the service named no account", imp.Name())
	}
	return imp.Name() + " account=" + id, nil
}

// A Looker is an Importer that finds whole files of its destination one
// by one (a local folder: a stat per file), so verify checks a snapshot
// against it without holding the destination's whole listing in memory:
// flat memory however many files there are.
type Looker interface {
	// Lookup returns the file of kind at the snapshot path rel exactly as
	// List(kind) would give it, sha256 included, or ok false when List
	// would not give it. With trust not nil, a file unchanged since this
	// importer wrote it counts with the sha256 recorded then, as
	// ListWritten decides; with nil it is read and hashed.
	Lookup(ctx context.Context, kind mapping.Kind, rel string, trust *ledger.Ledger) (r mapping.Remote, ok bool, err error)
	// Count returns how many files of each whole-file kind List would
	// give, without reading them.
	Count(ctx context.Context) (map[mapping.Kind]int, error)
}

// A Rechecker confirms, one file at a time, a whole file its listing did
// not show: Drive's files.list may not show a file made a moment before,
// while files.get by the id the ledger recorded does. Verify asks it
// before it calls a file missing, so a check right after an upload does
// not report that upload missing. It finds only a file this importer
// wrote (a ledger record) that still matches e byte for byte.
type Rechecker interface {
	Recheck(ctx context.Context, e mapping.Entry, led *ledger.Ledger) (r mapping.Remote, ok bool, err error)
	RecordsReader
}

// A RecordsReader says whether List reads the records of kind k from
// their snapshot document at this destination, so that the document
// found byte for byte holds all of them, and a destination without the
// document holds none. An importer that is not a RecordsReader reads the
// records of every kind from their documents (see ReadsRecordsFrom).
type RecordsReader interface {
	ReadsRecordsFrom(k mapping.Kind) bool
}

// ReadsRecordsFrom reports whether imp reads the records of kind k from
// their snapshot document (RecordsReader).
func ReadsRecordsFrom(imp Importer, k mapping.Kind) bool {
	rr, ok := imp.(RecordsReader)
	return !ok || rr.ReadsRecordsFrom(k)
}

// A Finisher tells whether its last Import of snap ran to the end, and
// whether what that Import writes beside the items (the folder's own copy
// of the manifest) is still as it left it. Migrate, re-run on an unchanged
// source, then lets its final check look at every item first and imports
// only when the check finds one missing or different: the import would
// only have looked at each item the same way.
type Finisher interface {
	Finished(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger) (bool, error)
}

// A FileStreamer is an Importer that takes whole files one at a time
// from a snapshot still being written, so that migrate overlaps export
// and import: each media file starts on its way to the destination as
// soon as the export has put it in the snapshot's folder.
//
// A stream is only a head start. Import still runs over the committed
// snapshot afterwards and finds what the stream did by its ledger
// records (each file Unchanged), so a file the stream missed, failed or
// was cancelled on is imported then, and one it finished is not sent
// twice. ImportFile follows the same rules as Import for one file: the
// same ledger records, no duplicates, nothing overwritten.
type FileStreamer interface {
	// StreamFiles readies the destination for files of the snapshot
	// folder files, which is still being written. The outcome of each
	// file goes to rep (phase "import", Item the entry's path), as
	// Import reports it.
	StreamFiles(ctx context.Context, files snapshot.Folder, led *ledger.Ledger, rep progress.Reporter) (FileSink, error)
}

// A FileSink is one stream of files (see FileStreamer).
type FileSink interface {
	// Workers is how many ImportFile calls may run at once.
	Workers() int
	// ImportFile makes the destination hold the file e names, or starts
	// to: a destination that commits uploads in batches finishes it by
	// Close. An error stops the stream; a file that fails alone is
	// reported as failed.
	ImportFile(ctx context.Context, e mapping.Entry) error
	// Close finishes what ImportFile started; no ImportFile runs then.
	Close() error
}

// A Holder is an Importer for some kinds only (an address book holds
// contacts): verify checks those kinds and shows the others as "not
// checked" (never a pass), instead of calling everything else missing.
type Holder interface {
	Holds(k mapping.Kind) bool
}

// Holds reports whether imp's destination takes items of kind k.
func Holds(imp Importer, k mapping.Kind) bool {
	h, ok := imp.(Holder)
	return !ok || h.Holds(k)
}

// A Closer is an Importer holding resources to release after a run.
type Closer interface {
	Close() error
}

// Params are what every importer constructor receives.
type Params struct {
	// Arg is the part of the destination string after "scheme:".
	Arg string
	// SourceName names the source, for default remote folders
	// ("/miexit/<source name>").
	SourceName string
	StateDir   string
	ConfigDir  string
	DryRun     bool
	// Concurrency bounds parallel uploads (default 4).
	Concurrency int
	Log         *slog.Logger
}

// Factory builds an importer from its parameters.
type Factory func(ctx context.Context, p Params) (Importer, error)

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a scheme available. Packages call it from init.
func Register(scheme string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("importers: scheme registered twice: " + scheme)
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

// Open builds the importer for a destination string such as "dir:./out",
// "google" or "dropbox:/Apps/miexit".
func Open(ctx context.Context, dst string, p Params) (Importer, error) {
	scheme, arg, _ := strings.Cut(dst, ":")
	mu.RLock()
	f := registry[scheme]
	mu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("%w: unknown destination %q (known: %s)", mapping.ErrBadInput, dst, strings.Join(Schemes(), ", "))
	}
	p.Arg = arg
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 4
	}
	i, err := f(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", dst, err)
	}
	return i, nil
}
