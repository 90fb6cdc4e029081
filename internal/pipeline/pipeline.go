// Package pipeline runs miexit's jobs (inventory, export, import, verify,
// migrate) from source and destination strings. The CLI is a shell around
// it; tests drive it directly.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/statedir"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// Options are shared by every job.
type Options struct {
	StateDir    string // default statedir.State()
	ConfigDir   string // default statedir.Config()
	Password    string
	DryRun      bool
	Concurrency int
	Log         *slog.Logger
	Progress    progress.Reporter
	// Totals, when set, is told how many items of a kind a phase will
	// report, before it starts (for progress bars' lengths and ETAs).
	Totals func(k mapping.Kind, items int64)
	// linkLocal is set by Migrate: its snapshot may hard-link a local
	// source's media (see snapshot.Options.LinkLocal), because the same
	// run copies them on to the destination and checks them there.
	linkLocal bool
	// mediaAdded is set by Migrate to start each media file on its way
	// to the destination while the export goes on.
	mediaAdded func(mapping.Entry)
	// ledger, when set, is the ledger Migrate holds open for the whole
	// run (a second handle would wait for its lock).
	ledger *ledger.Ledger
}

// Fill sets the defaults of the fields left empty: the state and config
// dirs, a silent log and no progress.
func (o *Options) Fill() {
	if o.StateDir == "" {
		o.StateDir = statedir.State()
	}
	if o.ConfigDir == "" {
		o.ConfigDir = statedir.Config()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = progress.Discard
	}
}

func (o Options) exporter(ctx context.Context, src string) (exporters.Exporter, error) {
	return exporters.Open(ctx, src, exporters.Params{Password: o.Password, StateDir: o.StateDir, ConfigDir: o.ConfigDir, Log: o.Log,
		Concurrency: o.Concurrency})
}

func (o Options) importer(ctx context.Context, dst, sourceName string) (importers.Importer, error) {
	return importers.Open(ctx, dst, importers.Params{
		SourceName: sourceName, StateDir: o.StateDir, ConfigDir: o.ConfigDir,
		DryRun: o.DryRun, Concurrency: o.Concurrency, Log: o.Log,
	})
}

// InventoryResult is what a source holds: the standard counts, and any a
// source knows beyond them (exporters.ExtraCounter).
type InventoryResult struct {
	mapping.Counts
	Extra   map[string]int
	Notices []string
}

// Inventory counts what src holds, copying nothing.
func Inventory(ctx context.Context, src string, o Options) (InventoryResult, error) {
	o.Fill()
	ex, err := o.exporter(ctx, src)
	if err != nil {
		return InventoryResult{}, err
	}
	c, err := ex.Inventory(ctx)
	if err != nil {
		return InventoryResult{}, err
	}
	res := InventoryResult{Counts: c}
	if xc, ok := ex.(exporters.ExtraCounter); ok {
		if res.Extra, err = xc.ExtraCounts(ctx); err != nil {
			return res, err
		}
	}
	if n, ok := ex.(exporters.Noticer); ok {
		res.Notices = n.Notices()
	}
	return res, nil
}

// ExportResult says what an export wrote.
type ExportResult struct {
	Dir       string         `json:"snapshot"`
	Counts    mapping.Counts `json:"counts"`
	Unchanged int            `json:"media_unchanged"`
	// Reused says the source had not changed since the snapshot was
	// written, which was used as it was.
	Reused bool `json:"reused,omitempty"`
}

// Export writes src into the snapshot folder dir.
func Export(ctx context.Context, src, dir string, o Options) (ExportResult, error) {
	o.Fill()
	ex, err := o.exporter(ctx, src)
	if err != nil {
		return ExportResult{}, err
	}
	return export(ctx, ex, src, dir, o)
}

func export(ctx context.Context, ex exporters.Exporter, src, dir string, o Options) (ExportResult, error) {
	state := ""
	if st, ok := ex.(exporters.Stater); ok && !o.DryRun {
		// The snapshot's files are checked while the source is walked.
		intact := make(chan *snapshot.Reader, 1)
		go func() { intact <- intactSnapshot(dir, src, o) }()
		var err error
		state, err = st.State(ctx)
		prev := <-intact
		if err != nil {
			return ExportResult{}, fmt.Errorf("export %s: %w", src, err)
		}
		if prev != nil && state != "" && prev.SourceState() == state {
			o.Log.Info("the source has not changed since the last export; reusing its snapshot", "source", src, "dir", dir)
			c := prev.Counts()
			return ExportResult{Dir: dir, Counts: c, Unchanged: c.Media, Reused: true}, nil
		}
	}
	w, err := snapshot.Create(dir, snapshot.Options{Source: src, Log: o.Log, Progress: o.Progress, DryRun: o.DryRun, LinkLocal: o.linkLocal, SourceState: state, MediaAdded: o.mediaAdded})
	if err != nil {
		return ExportResult{}, err
	}
	if err := ex.Export(ctx, w); err != nil {
		w.Abort()
		return ExportResult{}, fmt.Errorf("export %s: %w", src, err)
	}
	if err := w.Commit(ctx); err != nil {
		return ExportResult{}, fmt.Errorf("export %s: %w", src, err)
	}
	return ExportResult{Dir: dir, Counts: w.Counts(), Unchanged: w.Unchanged()}, nil
}

// intactSnapshot returns the snapshot in dir when it was made from src
// with a recorded source state and still holds every file it lists, so it
// may be reused as it is if the source's state is the same: exporting
// again would write the same bytes, and an unchanged re-run then costs a
// walk of the source, not a read of it.
func intactSnapshot(dir, src string, o Options) *snapshot.Reader {
	r, err := snapshot.Open(dir)
	if err != nil || r.Source() != src || r.SourceState() == "" {
		return nil
	}
	if ok, err := r.Intact(); err != nil || !ok {
		o.Log.Info("the snapshot misses files it lists; exporting again", "dir", dir, "err", err)
		return nil
	}
	return r
}

// DefaultSnapshot is where migrate keeps the snapshot of src: a folder in
// the state dir named for the source, so repeated runs are incremental.
func DefaultSnapshot(stateDir, name, src string) string {
	sum := sha256.Sum256([]byte(src))
	clean := snapshot.SafeName(name, "source")
	return filepath.Join(stateDir, "snapshots", clean+"-"+hex.EncodeToString(sum[:])[:8])
}

// openLedger opens the ledger unless this is a dry run of a folder that
// has none yet.
func openLedger(o Options) (*ledger.Ledger, error) {
	return ledger.Open(filepath.Join(o.StateDir, "ledger.db"))
}

// ImportResult says what an import did.
type ImportResult struct {
	Destination string `json:"destination"`
}

// Import uploads the snapshot in dir to dst.
func Import(ctx context.Context, dir, dst string, o Options) (ImportResult, error) {
	o.Fill()
	snap, err := snapshot.Open(dir)
	if err != nil {
		return ImportResult{}, notSnapshot(dir, err)
	}
	imp, err := o.importer(ctx, dst, sourceName(snap.Source(), dir))
	if err != nil {
		return ImportResult{}, err
	}
	defer closeImporter(imp)
	led, err := openLedger(o)
	if err != nil {
		return ImportResult{}, err
	}
	defer led.Close()
	return importInto(ctx, snap, imp, led, o)
}

func importInto(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger, o Options) (ImportResult, error) {
	importTotals(snap, o)
	if err := imp.Import(ctx, snap, led, o.Progress); err != nil {
		return ImportResult{Destination: imp.Name()}, fmt.Errorf("import to %s: %w", imp.Name(), err)
	}
	return ImportResult{Destination: imp.Name()}, nil
}

// importTotals tells o.Totals how many files the import has to go over.
func importTotals(snap *snapshot.Reader, o Options) {
	if o.Totals != nil {
		c := snap.Counts()
		o.Totals(mapping.KindMedia, int64(c.Media))
		o.Totals(mapping.KindNote, int64(c.Notes))
	}
}

func closeImporter(imp importers.Importer) {
	if c, ok := imp.(importers.Closer); ok {
		_ = c.Close()
	}
}

func notSnapshot(dir string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s is not a miexit snapshot (no manifest.json); export one with: miexit export --from SRC --to %s", mapping.ErrBadInput, dir, dir)
	}
	return err
}

// sourceName is the short name of a snapshot's source, for remote folders.
func sourceName(src, dir string) string {
	if src != "" {
		scheme, arg, _ := strings.Cut(src, ":")
		if arg == "" {
			return scheme
		}
		b := filepath.Base(filepath.Clean(arg))
		return strings.TrimSuffix(b, filepath.Ext(b))
	}
	return filepath.Base(dir)
}

// Verify compares what dst holds with a snapshot: from is a snapshot folder,
// or a source, which is first exported to its default snapshot.
func Verify(ctx context.Context, from, dst string, o Options) (verify.Result, error) {
	o.Fill()
	dir, err := o.snapshotFor(ctx, from)
	if err != nil {
		return verify.Result{}, err
	}
	return verifyWith(ctx, dir, dst, o, verify.Run)
}

// verifyWith opens the snapshot in dir, dst's importer and the ledger, and
// runs check over them.
func verifyWith(ctx context.Context, dir, dst string, o Options, check func(context.Context, *snapshot.Reader, importers.Importer, *ledger.Ledger) (verify.Result, error)) (verify.Result, error) {
	snap, err := snapshot.Open(dir)
	if err != nil {
		return verify.Result{}, notSnapshot(dir, err)
	}
	o.DryRun = false
	imp, err := o.importer(ctx, dst, sourceName(snap.Source(), dir))
	if err != nil {
		return verify.Result{}, err
	}
	defer closeImporter(imp)
	if o.ledger != nil {
		return check(ctx, snap, imp, o.ledger)
	}
	led, err := openLedger(o)
	if err != nil {
		return verify.Result{}, err
	}
	defer led.Close()
	return check(ctx, snap, imp, led)
}

// snapshotFor turns verify's --from into a snapshot folder.
func (o Options) snapshotFor(ctx context.Context, from string) (string, error) {
	if st, err := os.Stat(filepath.Join(from, snapshot.ManifestPath)); err == nil && st.Mode().IsRegular() {
		return from, nil
	}
	if !strings.Contains(from, ":") {
		return "", fmt.Errorf("%w: %s is neither a snapshot folder nor a source such as archive:PATH", mapping.ErrBadInput, from)
	}
	ex, err := o.exporter(ctx, from)
	if err != nil {
		return "", err
	}
	dir := DefaultSnapshot(o.StateDir, ex.Name(), from)
	if _, err := export(ctx, ex, from, dir, o); err != nil {
		return "", err
	}
	return dir, nil
}

// MigrateResult says what a migrate did.
type MigrateResult struct {
	Export ExportResult  `json:"export"`
	Import ImportResult  `json:"import"`
	Verify verify.Result `json:"verify"`
}

// Migrate exports src to a snapshot (snapDir, or the default one), imports
// it to dst and verifies dst. Where dst takes files one at a time
// (importers.FileStreamer), each media file is imported as soon as the
// export has it, so the two overlap; the import of the committed snapshot
// then does the rest (records, documents, anything the stream missed) and
// finds the streamed files done. The final check runs after both.
func Migrate(ctx context.Context, src, dst, snapDir string, o Options) (MigrateResult, error) {
	o.Fill()
	var res MigrateResult
	ex, err := o.exporter(ctx, src)
	if err != nil {
		return res, err
	}
	if snapDir == "" {
		snapDir = DefaultSnapshot(o.StateDir, ex.Name(), src)
	}
	o.linkLocal = true
	if o.DryRun {
		return dryMigrate(ctx, ex, src, dst, snapDir, o)
	}
	// The export writes src into the manifest as its source, so the
	// importer can be opened, and the destination found, before it.
	imp, err := o.importer(ctx, dst, sourceName(src, snapDir))
	if err != nil {
		return res, err
	}
	defer closeImporter(imp)
	led, err := openLedger(o)
	if err != nil {
		return res, err
	}
	defer led.Close()

	st := newStream(ctx, imp, snapDir, led, o)
	eo := o
	if st != nil {
		eo.mediaAdded = st.add
	}
	res.Export, err = export(ctx, ex, src, snapDir, eo)
	if st != nil {
		st.finish()
	}
	if err != nil {
		return res, err
	}
	snap, err := snapshot.Open(snapDir)
	if err != nil {
		return res, notSnapshot(snapDir, err)
	}
	iopt := o
	if st != nil {
		iopt.Progress = st.reporter()
	}
	vo := o
	vo.ledger = led
	if res.Export.Reused {
		checked, done, err := checkFirst(ctx, snap, imp, led, snapDir, dst, vo, iopt)
		if err != nil || done {
			res.Import, res.Verify = ImportResult{Destination: imp.Name()}, checked
			return res, err
		}
	}
	if res.Import, err = importInto(ctx, snap, imp, led, iopt); err != nil {
		return res, err
	}
	// The final check trusts the checksums the import computed while
	// writing (verify.RunWritten); `miexit verify` re-reads everything.
	// What it finds missing or different (the destination emptied or
	// changed behind miexit's back, so the ledger claimed files it no
	// longer holds) is imported once more before anything is reported.
	// It opens the destination anew, so that nothing the import learned
	// of it stands in for reading it.
	settle := func(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger) (verify.Result, error) {
		return verify.Settle(ctx, snap, imp, led, o.Progress)
	}
	if res.Verify, err = verifyWith(ctx, snapDir, dst, vo, settle); err != nil {
		return res, err
	}
	if res.Verify.Repaired > 0 {
		o.Log.Info("the final check found items missing or different at the destination and imported them again",
			"destination", res.Verify.Destination, "items", res.Verify.Repaired, "still_wrong", len(res.Verify.Problems))
	}
	return res, nil
}

// checkFirst is the final check of a migrate whose source had not changed
// (its snapshot reused), run before the import, when the destination says
// its last import of this snapshot ran to its end (importers.Finisher):
// the import would only look at each item as the check does, so a re-run
// that finds everything in place looks once instead of twice. done says
// the check found everything in place; every file is then reported as the
// import would have ("unchanged"). Otherwise the check has forgotten the
// ledger records of what it found missing or different, so the import
// that follows sends exactly those, and the usual final check runs after.
func checkFirst(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger, snapDir, dst string, vo, iopt Options) (res verify.Result, done bool, err error) {
	f, ok := imp.(importers.Finisher)
	if !ok {
		return res, false, nil
	}
	if finished, err := f.Finished(ctx, snap, led); err != nil || !finished {
		return res, false, err
	}
	var seen seenFiles
	check := func(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger) (verify.Result, error) {
		return verify.RunWrittenSeeing(ctx, snap, imp, led, seen.add)
	}
	if res, err = verifyWith(ctx, snapDir, dst, vo, check); err != nil || !res.CheckedOK() {
		return res, false, err
	}
	vo.Log.Debug("the last import of this snapshot ran to its end and the final check found everything in place; nothing to import", "destination", imp.Name())
	importTotals(snap, iopt)
	unchanged := func(k mapping.Kind, path string, size int64) {
		iopt.Progress.Report(progress.Event{Phase: "import", Kind: k, Item: path, Action: progress.Unchanged, Bytes: size})
	}
	if seen.each(unchanged) {
		return res, true, nil
	}
	for e, err := range snap.Files() {
		if err != nil {
			return res, false, err
		}
		unchanged(e.Kind, e.Path, e.Size)
	}
	return res, true, nil
}

// seenFiles keeps the kind, path and size of the files the check saw, a
// few bytes each and up to seenFilesBytes, so that a re-run reports them
// unchanged without another read of the manifest (a few milliseconds of
// a re-run of 30). Past the bound it keeps nothing, and the manifest is
// read again: memory stays flat however many files there are.
type seenFiles struct {
	buf  []byte
	over bool
}

// seenFilesBytes holds about 5,000 files' worth; a variable for tests.
var seenFilesBytes = 256 << 10

func (s *seenFiles) add(e mapping.Entry) {
	k := slices.Index(mapping.Kinds, e.Kind)
	if s.over || k < 0 || len(s.buf)+1+len(e.Path)+2*binary.MaxVarintLen64 > seenFilesBytes {
		// Past the bound (or a kind it cannot name): keep nothing.
		s.buf, s.over = nil, true
		return
	}
	s.buf = append(s.buf, byte(k))
	s.buf = binary.AppendUvarint(s.buf, uint64(len(e.Path)))
	s.buf = append(s.buf, e.Path...)
	s.buf = binary.AppendVarint(s.buf, e.Size)
}

// each calls fn with every file kept, in order; false when the files
// were too many to keep.
func (s *seenFiles) each(fn func(k mapping.Kind, path string, size int64)) bool {
	if s.over {
		return false
	}
	for b := s.buf; len(b) > 0; {
		k := mapping.Kinds[b[0]]
		n, w := binary.Uvarint(b[1:])
		b = b[1+w:]
		path := string(b[:n])
		size, w := binary.Varint(b[n:])
		b = b[int(n)+w:]
		fn(k, path, size)
	}
	return true
}

// dryMigrate reports what a migrate would do, writing nothing.
func dryMigrate(ctx context.Context, ex exporters.Exporter, src, dst, snapDir string, o Options) (MigrateResult, error) {
	var res MigrateResult
	var err error
	if res.Export, err = export(ctx, ex, src, snapDir, o); err != nil {
		return res, err
	}
	if _, err := os.Stat(filepath.Join(snapDir, snapshot.ManifestPath)); err != nil {
		// Nothing was exported yet, so there is nothing to compare.
		return res, nil
	}
	res.Import, err = Import(ctx, snapDir, dst, o)
	return res, err
}
