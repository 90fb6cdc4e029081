// Package verify compares a snapshot's manifest with what a destination
// really holds, item by item, so a person knows whether it is safe to sign
// out of Mi Cloud.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"runtime"
	"sort"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/ordered"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// Row is one kind's line of the verify table.
type Row struct {
	Kind        mapping.Kind `json:"kind"`
	Source      int          `json:"source"`
	Destination int          `json:"destination"`
	Missing     int          `json:"missing"`
	Different   int          `json:"different"`
	// Extra counts items the destination holds that the snapshot does
	// not; they are reported, never a failure (a backup may hold more).
	Extra int `json:"extra"`
	// NotChecked: the destination does not take this kind (an address
	// book holds contacts only), so nothing of it was looked for there;
	// Source still counts the snapshot's items, which are copied nowhere
	// by this destination.
	NotChecked bool `json:"not_checked,omitempty"`
}

// Problem names one item that is missing or different.
type Problem struct {
	Kind    mapping.Kind `json:"kind"`
	Key     string       `json:"key"`
	Path    string       `json:"path"`
	Problem string       `json:"problem"` // "missing" or "different"
	Detail  string       `json:"detail,omitempty"`
}

// Result is the outcome of a verify.
type Result struct {
	Destination string    `json:"destination"`
	Rows        []Row     `json:"rows"`
	Problems    []Problem `json:"problems"`
	// OK: every item of the snapshot is at the destination. A kind the
	// destination does not take, with items in the snapshot, is not
	// there, so OK is false even with no Problems (see Unchecked).
	OK bool `json:"ok"`
	// Unchecked lists the kinds with items in the snapshot that the
	// destination does not take: they need another destination.
	Unchecked []mapping.Kind `json:"unchecked,omitempty"`
	// Repaired counts the items a migrate's first final check found
	// missing or different and imported again (see Settle); Problems are
	// what remained after that.
	Repaired int `json:"repaired,omitempty"`
	// Reduced counts the photos the source held only as reduced copies
	// (snapshot Counts().Thumbnails): their originals are not in the
	// snapshot, so nothing here vouches for them, and a verify that
	// passes does not make signing out safe while it is not 0.
	Reduced int `json:"reduced,omitempty"`
}

// CheckedOK reports whether every kind the destination takes is complete
// there, whatever it does not take: a carddav: destination's own test,
// never a reason to call signing out safe (that is OK).
func (r Result) CheckedOK() bool { return len(r.Problems) == 0 && r.rowsOK() }

func (r Result) rowsOK() bool {
	for _, row := range r.Rows {
		if !row.NotChecked && (row.Missing > 0 || row.Different > 0) {
			return false
		}
	}
	return true
}

// matchKey is how an item is found at the destination: whole files by
// path, records by key.
func matchKey(e mapping.Entry) string {
	if snapshot.WholeFile(e.Kind) {
		return e.Path
	}
	return e.Key
}

func remoteKey(r mapping.Remote) string {
	if snapshot.WholeFile(r.Kind) {
		return r.Path
	}
	return r.Key
}

// Run lists what imp's destination holds and compares it with snap. When
// led is not nil, ledger records of items found missing or different are
// forgotten, so the next import sends them again.
func Run(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger) (Result, error) {
	return run(ctx, snap, imp, led, nil, nil)
}

// RunWritten is Run for the check at the end of a migrate: when imp is an
// importers.WrittenLister, files it wrote and that have not changed since
// (by size and mtime) count with the checksum computed while writing them,
// and when a destination's copy of a shared document (messages.jsonl, say)
// is byte for byte the snapshot's, its records count as there without
// parsing it again. Nothing is taken on trust that the destination's own
// listing contradicts: a file gone, resized or touched since is read and
// hashed as Run does. Without a WrittenLister it is Run.
func RunWritten(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger) (Result, error) {
	return RunWrittenSeeing(ctx, snap, imp, led, nil)
}

// RunWrittenSeeing is RunWritten that also hands seen (when not nil) every
// whole-file entry of the manifest, in its order (snapshot.Files's
// sequence) and on the caller's goroutine, as the check takes it: a
// caller that reports each file once the check passed need not read the
// manifest again.
func RunWrittenSeeing(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger, seen func(mapping.Entry)) (Result, error) {
	wl, ok := imp.(importers.WrittenLister)
	if !ok || led == nil {
		wl = nil
	}
	return run(ctx, snap, imp, led, wl, seen)
}

func run(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger, wl importers.WrittenLister, seen func(mapping.Entry)) (Result, error) {
	res := Result{Destination: imp.Name(), Reduced: snap.Counts().Thumbnails}
	dest := ""
	if led != nil {
		var err error
		if dest, err = importers.LedgerKey(ctx, imp); err != nil {
			return res, fmt.Errorf("verify: %w", err)
		}
	}
	l := &listing{remote: map[mapping.Kind]map[heldKey]held{}, matched: map[mapping.Kind]int{}}
	if lk, ok := imp.(importers.Looker); ok {
		l.looker = lk
		if wl != nil {
			l.trust = led
		}
		var err error
		if l.counts, err = lk.Count(ctx); err != nil {
			return res, fmt.Errorf("verify: %s: %w", imp.Name(), err)
		}
	}
	remote := l.remote
	rows := map[mapping.Kind]*Row{}
	// collect reads seq, the destination's listing of the kinds ks, into
	// remote and the rows. A listing of several kinds says each entry's
	// kind; one of a single kind need not.
	collect := func(ks []mapping.Kind, seq iter.Seq2[mapping.Remote, error]) error {
		for _, k := range ks {
			remote[k] = map[heldKey]held{}
		}
		for r, err := range seq {
			if err != nil {
				what := fmt.Sprint(ks)
				if len(ks) == 1 {
					what = string(ks[0])
				}
				return fmt.Errorf("verify: list %s at %s: %w", what, imp.Name(), err)
			}
			m := remote[ks[0]]
			if len(ks) > 1 {
				var ok bool
				if m, ok = remote[r.Kind]; !ok {
					return fmt.Errorf("verify: the listing of %v at %s gave %s, a %s", ks, imp.Name(), r.Path, r.Kind)
				}
			}
			m[keyOf(remoteKey(r))] = hold(r)
		}
		for _, k := range ks {
			rows[k].Destination = len(remote[k])
		}
		return nil
	}
	list := func(k mapping.Kind) error {
		if l.looks(k) {
			rows[k].Destination = l.counts[k]
			return nil
		}
		seq := imp.List(ctx, k)
		if wl != nil {
			seq = wl.ListWritten(ctx, k, led)
		}
		return collect([]mapping.Kind{k}, seq)
	}
	unheld := map[mapping.Kind]*Row{}
	var together []mapping.Kind // whole-file kinds a KindsLister lists in one reading
	kl, _ := imp.(importers.KindsLister)
	for _, k := range mapping.Kinds {
		if !importers.Holds(imp, k) {
			unheld[k] = &Row{Kind: k, NotChecked: true}
			continue
		}
		rows[k] = &Row{Kind: k}
		if wl != nil && !snapshot.WholeFile(k) && importers.ReadsRecordsFrom(imp, k) {
			// Listed below, only if its document differs.
			continue
		}
		if kl != nil && snapshot.WholeFile(k) && !l.looks(k) {
			together = append(together, k)
			continue
		}
		if err := list(k); err != nil {
			return res, err
		}
	}
	if len(together) > 0 {
		// ListWritten's view when checking what was written.
		var wled *ledger.Ledger
		if wl != nil {
			wled = led
		}
		if err := collect(together, kl.ListKinds(ctx, together, wled)); err != nil {
			return res, err
		}
	}
	// deferred holds, in written mode, the record kinds read from their
	// documents whose entries are counted now and compared once the
	// document's own entry (written after its records) says whether they
	// need to be.
	deferred := map[mapping.Kind]bool{}
	if wl != nil {
		for _, k := range mapping.Kinds {
			if !snapshot.WholeFile(k) && rows[k] != nil && importers.ReadsRecordsFrom(imp, k) {
				deferred[k] = true
			}
		}
	}
	docSHA := map[string]string{}
	// The destination's documents, kept before the pass below takes them
	// off the listing as it matches them.
	docs := map[string]mapping.Remote{}
	for k := range deferred {
		doc := snapshot.Document(k)
		if l.looks(mapping.KindFile) {
			r, ok, err := l.looker.Lookup(ctx, mapping.KindFile, doc, l.trust)
			if err != nil {
				return res, fmt.Errorf("verify: %s: %w", imp.Name(), err)
			}
			if ok {
				docs[doc] = r
			}
		} else if h, ok := remote[mapping.KindFile][keyOf(doc)]; ok {
			docs[doc] = h.remote(mapping.KindFile)
		}
	}
	hasher, _ := imp.(importers.Hasher)
	rechecker, _ := imp.(importers.Rechecker)
	// What differs or is missing loses its ledger record, so the next
	// import sends it again; after the pass, since a document found only
	// by Recheck vouches for its records (below).
	var forgets []mapping.Entry
	later := func(e mapping.Entry) { forgets = append(forgets, e) }
	rechecked := map[string]bool{} // files found by Recheck, as in the snapshot
	// vouched: records of k the listing read from their document, which
	// Recheck found byte for byte the snapshot's.
	vouched := func(k mapping.Kind) bool {
		return rechecked[snapshot.Document(k)] && rechecker.ReadsRecordsFrom(k)
	}
	// recheck asks the importer for a whole file its listing lacked.
	recheck := func(e mapping.Entry) (mapping.Remote, bool, error) {
		if rechecker == nil || led == nil || !snapshot.WholeFile(e.Kind) {
			return mapping.Remote{}, false, nil
		}
		r, ok, err := rechecker.Recheck(ctx, e, led)
		if err != nil {
			return r, false, fmt.Errorf("verify: %s: %w", imp.Name(), err)
		}
		if ok && r.SHA256 == e.SHA256 {
			rechecked[e.Path] = true
		}
		return r, ok, nil
	}
	// counted tallies, on the producer's side, the entries that are only
	// counted (a kind this destination does not hold, or one deferred):
	// in a manifest of 100,000 messages and 5,000 photos they would be
	// most of the look-ahead's batches, and none needs a lookup or order.
	counted := map[mapping.Kind]int{}
	// unheldCounts: e counts in the row of a kind imp does not hold.
	unheldCounts := func(e mapping.Entry) bool { return unheld[e.Kind] != nil && !heldDoc(imp, e) }
	countOnly := func(e mapping.Entry) bool {
		if seen != nil && snapshot.WholeFile(e.Kind) {
			return false // consume shows it to seen, in order
		}
		if rows[e.Kind] == nil {
			if unheldCounts(e) {
				counted[e.Kind]++
			}
			return true
		}
		if deferred[e.Kind] {
			counted[e.Kind]++
			return true
		}
		return false
	}
	consume := func(f found) error {
		e := f.e
		if seen != nil && snapshot.WholeFile(e.Kind) {
			seen(e)
		}
		row := rows[e.Kind]
		if row == nil {
			if unheldCounts(e) {
				unheld[e.Kind].Source++
			}
			return nil
		}
		row.Source++
		if e.Kind == mapping.KindFile {
			docSHA[e.Path] = e.SHA256
		}
		if !f.looked {
			if f.r, f.ok = l.take(e); !f.ok {
				// Not listed, perhaps only not yet (Drive's listings lag
				// behind new files): found by its recorded id, it counts.
				r, ok, err := recheck(e)
				if err != nil {
					return err
				}
				if ok {
					f.r, f.ok = r, true
					row.Destination++
				}
			}
		} else if f.ok {
			l.matched[e.Kind]++
		}
		return check(snap, e, f.r, f.ok, row, hasher, later, &res)
	}
	// A Looker's lookups (an lstat each, or a read and a hash in a full
	// check) run ahead on every core, the results taken in the manifest's
	// order: what a sequential pass would find, in a fraction of the time.
	workers := runtime.GOMAXPROCS(0)
	err := ordered.Run(ctx, ordered.Options{Workers: workers, Ahead: 4 * workers}, func(q *ordered.Queue[[]found]) error {
		// In batches: a queued job costs more than an lstat.
		batch := make([]found, 0, lookupBatch)
		flush := func() error {
			b := batch
			batch = make([]found, 0, lookupBatch)
			return q.Go(func(ctx context.Context) ([]found, error) {
				for i := range b {
					if !b[i].looked {
						continue
					}
					var err error
					if b[i].r, b[i].ok, err = l.lookup(ctx, b[i].e); err != nil {
						return nil, err
					}
				}
				return b, nil
			})
		}
		for e, err := range snap.EntriesOf(func(k mapping.Kind) bool { return !deferred[k] }) {
			if err != nil {
				if ferr := flush(); ferr != nil {
					return ferr
				}
				return fmt.Errorf("verify: %w", err)
			}
			if countOnly(e) {
				continue
			}
			look := rows[e.Kind] != nil && l.looks(e.Kind)
			if batch = append(batch, found{e: e, looked: look}); len(batch) == lookupBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if len(batch) == 0 {
			return nil
		}
		return flush()
	}, func(b []found) error {
		for _, f := range b {
			if err := consume(f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for k, n := range counted {
		if row := rows[k]; row != nil {
			row.Source += n
		} else {
			unheld[k].Source += n
		}
	}
	for _, k := range mapping.Kinds {
		if !deferred[k] {
			continue
		}
		doc := snapshot.Document(k)
		if r, ok := docs[doc]; ok && r.SHA256 != "" && r.SHA256 == docSHA[doc] {
			// The destination's document is the snapshot's, byte for
			// byte, so it holds each of its records.
			rows[k].Destination = rows[k].Source
			continue
		}
		if _, listed := docs[doc]; !listed && rows[k].Source == 0 {
			// The snapshot has none of k, and the destination shows no
			// document to read any from: nothing to compare and nothing
			// extra, found without reading the destination again.
			continue
		}
		if err := list(k); err != nil {
			return res, err
		}
		row := rows[k]
		if row.Source == 0 {
			// The pass above counted none in the manifest: nothing to
			// compare, and another read of the manifest would find none;
			// what the destination holds of k is extra (below).
			continue
		}
		row.Source = 0
		for e, err := range snap.EntriesOf(func(kind mapping.Kind) bool { return kind == k }) {
			if err != nil {
				return res, fmt.Errorf("verify: %w", err)
			}
			if e.Kind != k {
				continue
			}
			row.Source++
			r, ok := l.take(e)
			if err := check(snap, e, r, ok, row, hasher, later, &res); err != nil {
				return res, err
			}
		}
	}
	if len(rechecked) > 0 {
		settleVouched(&res, rows, vouched)
	}
	for _, e := range forgets {
		if !snapshot.WholeFile(e.Kind) && vouched(e.Kind) {
			continue
		}
		forget(led, dest, e)
	}
	res.OK = true
	for _, k := range mapping.Kinds {
		row := rows[k]
		if row == nil {
			// Not looked for at this destination: shown, and never a pass
			// when the snapshot has any (they are copied nowhere by it).
			if u := unheld[k]; u != nil && u.Source > 0 {
				res.OK = false
				res.Unchecked = append(res.Unchecked, k)
				res.Rows = append(res.Rows, *u)
			}
			continue
		}
		row.Extra = l.extra(k)
		if row.Missing > 0 || row.Different > 0 {
			res.OK = false
		}
		res.Rows = append(res.Rows, *row)
	}
	sort.SliceStable(res.Problems, func(i, j int) bool {
		if res.Problems[i].Kind != res.Problems[j].Kind {
			return res.Problems[i].Kind < res.Problems[j].Kind
		}
		return res.Problems[i].Path+res.Problems[i].Key < res.Problems[j].Path+res.Problems[j].Key
	})
	if led != nil {
		if err := led.Flush(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// heldDoc: e is the shared document of a kind imp takes record by record
// (contacts.vcf at an address book), so its content is checked as those
// records, not missing as a file.
func heldDoc(imp importers.Importer, e mapping.Entry) bool {
	if e.Kind != mapping.KindFile {
		return false
	}
	for _, k := range mapping.Kinds {
		if doc := snapshot.Document(k); doc != "" && doc == e.Path && importers.Holds(imp, k) {
			return true
		}
	}
	return false
}

// lookupBatch is how many entries one look-ahead job looks up.
const lookupBatch = 64

// found is one manifest entry and what the destination holds for it,
// when it was looked up ahead.
type found struct {
	e      mapping.Entry
	r      mapping.Remote
	ok     bool
	looked bool
}

// check compares e with r, what the destination holds for it (ok false:
// nothing), counting it in row and res.
func check(snap *snapshot.Reader, e mapping.Entry, r mapping.Remote, ok bool, row *Row, hasher importers.Hasher, forget func(mapping.Entry), res *Result) error {
	if !ok {
		row.Missing++
		res.Problems = append(res.Problems, Problem{Kind: e.Kind, Key: e.Key, Path: e.Path, Problem: "missing"})
		forget(e)
		return nil
	}
	detail, err := compare(snap, e, r, hasher)
	if err != nil {
		return err
	}
	if detail != "" {
		row.Different++
		res.Problems = append(res.Problems, Problem{Kind: e.Kind, Key: e.Key, Path: e.Path, Problem: "different", Detail: detail})
		forget(e)
	}
	return nil
}

// listing is what verify knows of the destination: for a Looker, the
// counts of its whole files (each looked up as the manifest names it, so
// memory stays flat); otherwise, and for record kinds, its listing held
// in memory, each item taken off as the manifest matches it.
type listing struct {
	remote  map[mapping.Kind]map[heldKey]held
	looker  importers.Looker
	trust   *ledger.Ledger
	counts  map[mapping.Kind]int
	matched map[mapping.Kind]int
}

func (l *listing) looks(k mapping.Kind) bool { return l.looker != nil && snapshot.WholeFile(k) }

// lookup finds a whole file of e's at a Looker. It may run on several
// goroutines at once.
func (l *listing) lookup(ctx context.Context, e mapping.Entry) (mapping.Remote, bool, error) {
	r, ok, err := l.looker.Lookup(ctx, e.Kind, e.Path, l.trust)
	if err != nil {
		return r, false, fmt.Errorf("verify: %w", err)
	}
	return r, ok, nil
}

// take finds e in the listing held in memory and takes it off.
func (l *listing) take(e mapping.Entry) (mapping.Remote, bool) {
	k := keyOf(matchKey(e))
	h, ok := l.remote[e.Kind][k]
	if !ok {
		return mapping.Remote{}, false
	}
	delete(l.remote[e.Kind], k)
	return h.remote(e.Kind), true
}

// extra counts what the destination holds of k that the snapshot does not.
func (l *listing) extra(k mapping.Kind) int {
	if l.looks(k) {
		// A file that appeared between the count and its lookup would
		// make this negative: it is not an extra the snapshot lacks.
		return max(0, l.counts[k]-l.matched[k])
	}
	return len(l.remote[k])
}

// forget drops e's records from dest's bucket of the ledger.
func forget(led *ledger.Ledger, dest string, e mapping.Entry) {
	if led == nil {
		return
	}
	_ = led.Delete(dest, e.Key)
	_ = led.Delete(dest, e.Path)
}

// settleVouched counts as there the records that vouched says their
// document holds, which the listing could not read (it did not show the
// document either).
func settleVouched(res *Result, rows map[mapping.Kind]*Row, vouched func(mapping.Kind) bool) {
	kept := res.Problems[:0]
	for _, p := range res.Problems {
		if row := rows[p.Kind]; p.Problem == "missing" && row != nil && !snapshot.WholeFile(p.Kind) && vouched(p.Kind) {
			row.Missing--
			row.Destination++
			continue
		}
		kept = append(kept, p)
	}
	res.Problems = kept
}

// compare returns why r differs from e, or "" when they match.
func compare(snap *snapshot.Reader, e mapping.Entry, r mapping.Remote, hasher importers.Hasher) (string, error) {
	if r.Size > 0 && e.Size > 0 && r.Size != e.Size && snapshot.WholeFile(e.Kind) {
		return fmt.Sprintf("size %d at the destination, %d in the snapshot", r.Size, e.Size), nil
	}
	switch {
	case r.SHA256 != "":
		if r.SHA256 != e.SHA256 {
			return "sha256 differs", nil
		}
	case r.Hash != "" && hasher != nil && snapshot.WholeFile(e.Kind):
		want, err := fileHash(snap, e.Path, hasher)
		if err != nil {
			return "", fmt.Errorf("verify: hash %s in the snapshot: %w", e.Path, err)
		}
		if want != r.Hash {
			return "checksum differs", nil
		}
	default:
		return "the destination gave no checksum to compare", nil
	}
	return "", nil
}

func fileHash(snap *snapshot.Reader, rel string, hs importers.Hasher) (string, error) {
	f, err := snap.Open(rel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := hs.NewHash()
	if _, err := fsutil.Copy(h, f); err != nil {
		return "", err
	}
	return hashString(h.Sum(nil), hs), nil
}

func hashString(sum []byte, hs importers.Hasher) string {
	if enc, ok := hs.(importers.HashEncoder); ok {
		return enc.EncodeHash(sum)
	}
	return hex.EncodeToString(sum)
}

// heldKey and held keep the destination's listing small while the
// manifest is walked (about 120 bytes an item instead of 300: no path or
// key strings, the sha256 as bytes), because verify holds every remote
// item at once. heldKey is the first 16 bytes of the sha256 of the match
// key: a collision would take 2^64 items.
type heldKey [16]byte

type held struct {
	size   int64
	sha256 [32]byte
	hasSHA bool
	// rawSHA holds r.SHA256 when it is not lower-case hex of 32 bytes.
	rawSHA string
	hash   string
}

func keyOf(k string) heldKey {
	sum := sha256.Sum256([]byte(k))
	return heldKey(sum[:16])
}

func hold(r mapping.Remote) held {
	h := held{size: r.Size, hash: r.Hash}
	if b, err := hex.DecodeString(r.SHA256); err == nil && len(b) == 32 && hex.EncodeToString(b) == r.SHA256 {
		h.sha256, h.hasSHA = [32]byte(b), true
	} else {
		h.rawSHA = r.SHA256
	}
	return h
}

// remote gives back what compare reads of the listed item.
func (h held) remote(k mapping.Kind) mapping.Remote {
	r := mapping.Remote{Kind: k, Size: h.size, SHA256: h.rawSHA, Hash: h.hash}
	if h.hasSHA {
		r.SHA256 = hex.EncodeToString(h.sha256[:])
	}
	return r
}

// PhaseRepair is the progress phase of Settle's re-import.
const PhaseRepair = "repair"

// Settle is the final check of a migrate (and so of a backup): RunWritten,
// and when that finds items missing or different, one more imp.Import of
// snap and a second RunWritten. The first check forgot the ledger records
// of what it found wrong, so the import sends exactly those again and
// skips the rest; a destination emptied or changed behind miexit's back
// is repaired in the same run instead of ending with "run import again".
// Only what the second check still finds is reported as a problem;
// Result.Repaired counts what the first one found. A failed re-import is
// returned with the first check's result.
//
// The re-import's events reach rep under PhaseRepair, and only for what it
// did (copies and failures): the first import already reported every item,
// and counting the rest again as "unchanged" would double them.
func Settle(ctx context.Context, snap *snapshot.Reader, imp importers.Importer, led *ledger.Ledger, rep progress.Reporter) (Result, error) {
	res, err := RunWritten(ctx, snap, imp, led)
	if err != nil || res.CheckedOK() {
		// Kinds the destination does not take (Unchecked) are no reason to
		// import again: a second pass could not put them there.
		return res, err
	}
	if rep == nil {
		rep = progress.Discard
	}
	repair := progress.Func(func(e progress.Event) {
		if e.Phase == "import" {
			if e.Action == progress.Unchanged {
				return
			}
			e.Phase = PhaseRepair
		}
		rep.Report(e)
	})
	if err := imp.Import(ctx, snap, led, repair); err != nil {
		return res, fmt.Errorf("import again what the final check found missing or different at %s: %w", imp.Name(), err)
	}
	again, err := RunWritten(ctx, snap, imp, led)
	if err != nil {
		return res, err
	}
	again.Repaired = len(res.Problems)
	return again, nil
}
