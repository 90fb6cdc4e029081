package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"
)

// PhaseRSS is one step's memory at one size.
type PhaseRSS struct {
	Phase   string // export, import, verify, migrate (all three), rerun (migrate again)
	Files   int
	PeakRSS int64 // the child's VmHWM
	RssFile int64 // mapped files resident at the end (bbolt's mmap, the binary)
	// PeakAnon is the highest RssAnon seen (sampled every 20 ms): the
	// process's own memory, without mapped files.
	PeakAnon int64
	// PeakLive is the highest live heap after a GC: what the phase held.
	PeakLive uint64
	Took     time.Duration
	Profile  string // heap profile at the highest live heap, "" if none
}

// Phases generates n small files of kb KiB under work and runs export,
// import and verify each in its own child process, then a whole migrate
// into a fresh state and the same migrate again with nothing changed
// (rerun), reporting each one's peak RSS. With profiles set,
// each child writes a heap profile taken at its highest live heap there
// (read it with go tool pprof -sample_index=inuse_space).
func Phases(ctx context.Context, work string, n, kb, concurrency int, profiles string) ([]PhaseRSS, error) {
	dir := filepath.Join(work, fmt.Sprintf("phases-%d", n))
	if err := GenerateSmall(ctx, filepath.Join(dir, "phone"), n, kb); err != nil {
		return nil, err
	}
	var out []PhaseRSS
	for _, ph := range []string{"export", "import", "verify", "migrate", "rerun"} {
		a := childArgs{Concurrency: concurrency}
		switch ph {
		case "export", "import", "verify":
			a.Phase = ph
		case "migrate":
			// A fresh state and destination, as a first migrate has.
			for _, d := range []string{"state", "dest"} {
				if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
					return nil, err
				}
			}
		case "rerun":
			// The same migrate again: the writer loads the previous
			// manifest, the importer finds everything in its ledger.
		}
		if profiles != "" {
			a.HeapProfile = filepath.Join(profiles, fmt.Sprintf("heap-%s-%d.pprof", ph, n))
		}
		st, d, err := runChild(ctx, dir, a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ph, err)
		}
		out = append(out, PhaseRSS{Phase: ph, Files: n, PeakRSS: st.HWM, RssFile: st.RssFile, PeakLive: st.PeakLive, PeakAnon: st.PeakAnon, Took: d, Profile: a.HeapProfile})
	}
	return out, nil
}

// PhasesMarkdown writes Phases' results as a table.
func PhasesMarkdown(w io.Writer, rs []PhaseRSS) {
	// The peak live heap is left out: /gc/heap/live counts what was
	// allocated during marking as live, so with the copy buffers' churn
	// it overshoots the heap profiles by megabytes.
	fmt.Fprintln(w, "| phase | files | peak RSS (VmHWM) | peak RssAnon | RssFile at end | took | heap profile |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", r.Phase, r.Files, mb(r.PeakRSS), mb(r.PeakAnon), mb(r.RssFile), secs(r.Took), r.Profile)
	}
}

// watchHeap follows the live heap after each GC and returns its peak
// when stopped. With path set it also rewrites path with a heap profile
// whenever the live heap grew by 2% over the last one written, so the
// profile shows what was held at the peak rather than what is left at the
// end.
func watchHeap(path string) (stop func() (live uint64, anon int64, err error)) {
	if path != "" {
		runtime.MemProfileRate = 64 << 10 // finer than the default 512 KiB
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var mu sync.Mutex
	var best, written uint64
	var bestAnon int64
	var werr error
	check := func() {
		metrics.Read(sample)
		live := sample[0].Value.Uint64()
		anon, _ := procStatus("RssAnon")
		mu.Lock()
		defer mu.Unlock()
		best = max(best, live)
		bestAnon = max(bestAnon, anon)
		if path == "" || live <= written+written/50 {
			return
		}
		written = live
		// The heap profile lags the heap by up to two GC cycles; a
		// collection now makes it show this peak (profiling runs only).
		runtime.GC()
		tmp := path + ".tmp"
		f, err := os.Create(tmp)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			werr = err
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				check()
			}
		}
	})
	return func() (uint64, int64, error) {
		close(done)
		wg.Wait()
		// A short phase may finish before its first GC; one now gives
		// at least the live heap at its end.
		runtime.GC()
		check()
		mu.Lock()
		defer mu.Unlock()
		return best, bestAnon, werr
	}
}
