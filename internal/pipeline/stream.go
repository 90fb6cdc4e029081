package pipeline

import (
	"context"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// streamQueue bounds the media entries waiting for a stream worker. When
// the destination is slower than the export, the export waits here
// rather than queueing the whole snapshot in memory: migrate then costs
// about the slower of the two, never their sum.
const streamQueue = 64

// stream imports media files while the export is still adding them
// (importers.FileStreamer). It is a head start only: the Import after the
// export goes over every file again and finds the ones the stream did
// through their ledger records, so whatever the stream misses (it stops
// at its first error, leaving the error to that Import to meet and
// report) costs time, never a file.
type stream struct {
	once   sync.Once
	open   func() // readies the sink and starts the workers
	sink   importers.FileSink
	rep    progress.Reporter
	log    *slog.Logger
	queue  chan mapping.Entry
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seed maphash.Seed
	done []uint64 // hashes of the items the stream reported
}

// newStream returns a stream to imp when it takes one, or nil. The
// destination is readied (StreamFiles) only when the first file comes:
// an export that reuses its snapshot adds none, and its run then costs
// nothing more than before.
func newStream(ctx context.Context, imp importers.Importer, dir string, led *ledger.Ledger, o Options) *stream {
	fs, ok := imp.(importers.FileStreamer)
	if !ok {
		return nil
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &stream{rep: o.Progress, log: o.Log, queue: make(chan mapping.Entry, streamQueue),
		ctx: sctx, cancel: cancel, seed: maphash.MakeSeed()}
	s.open = func() {
		sink, err := fs.StreamFiles(sctx, snapshot.Folder(dir), led, progress.Func(s.record))
		if err != nil {
			// The Import after the export meets the same error and says it.
			o.Log.Debug("no import during the export", "destination", imp.Name(), "err", err)
			cancel()
			return
		}
		s.sink = sink
		for range max(1, sink.Workers()) {
			s.wg.Add(1)
			go s.work()
		}
	}
	return s
}

// add is the snapshot's MediaAdded hook.
func (s *stream) add(e mapping.Entry) {
	s.once.Do(s.open)
	select {
	case s.queue <- e:
	case <-s.ctx.Done():
	}
}

func (s *stream) work() {
	defer s.wg.Done()
	for e := range s.queue {
		if s.ctx.Err() != nil {
			continue // drained; the Import after the export does the rest
		}
		if err := s.sink.ImportFile(s.ctx, e); err != nil {
			s.stop(e.Path, err)
		}
	}
}

// stop ends the stream at its first error; the Import after the export
// goes on from there and meets the error again if it is still there.
func (s *stream) stop(item string, err error) {
	s.log.Debug("import during the export stopped; the import after it goes on", "item", item, "err", err)
	s.cancel()
}

// record is the sink's reporter: a file done is reported and remembered;
// a failure is left to the Import after the export to report, so that
// what the person sees is one outcome an item.
func (s *stream) record(e progress.Event) {
	if e.Phase != "import" {
		s.rep.Report(e)
		return
	}
	if e.Action != progress.Copied && e.Action != progress.Unchanged {
		s.log.Debug("a file failed during the export; the import after it tries again", "item", e.Item, "err", e.Err)
		return
	}
	s.mu.Lock()
	s.done = append(s.done, s.hash(e.Item))
	s.mu.Unlock()
	s.rep.Report(e)
}

func (s *stream) hash(item string) uint64 { return maphash.String(s.seed, item) }

// finish waits for the files in flight. After it, the stream's items are
// in the ledger (as far as it got) and reported.
func (s *stream) finish() {
	s.once.Do(func() {}) // no file came: nothing to open
	close(s.queue)
	s.wg.Wait()
	if s.sink != nil {
		if err := s.sink.Close(); err != nil {
			s.stop("", err)
		}
	}
	s.cancel()
	s.mu.Lock()
	slices.Sort(s.done)
	s.mu.Unlock()
}

// reporter passes on the events of the Import after the export, but for
// the files the stream already reported: each item is counted once. An
// item the Import found other than Unchanged (the destination changed in
// between) is reported again, as it should be.
func (s *stream) reporter() progress.Reporter {
	return progress.Func(func(e progress.Event) {
		if e.Phase == "import" && e.Kind == mapping.KindMedia && e.Action == progress.Unchanged {
			if _, found := slices.BinarySearch(s.done, s.hash(e.Item)); found {
				return
			}
		}
		s.rep.Report(e)
	})
}
