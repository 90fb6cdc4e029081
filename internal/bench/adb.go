package bench

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	adbexp "github.com/miexit/miexit/exporters/adb"
	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/snapshot"
)

// Row IDs of the ADB figures.
const (
	RowADBPull = "adb-pull"
	RowADB     = "adb"
	RowADB1    = "adb-parallel1"
)

// adbRounds is how many times each ADB copy runs; the fastest counts.
const adbRounds = 2

// phoneStorage is where the fake phone keeps the tree.
const phoneStorage = "/storage/emulated/0"

// adbRows copies the same tree from the fake phone through a private real
// adb server twice: with `adb pull` and with miexit's ADB exporter into a
// snapshot (its defaults, as `miexit export adb:` runs it). The tree is the
// generated phone's DCIM (same names, sizes and dates) plus Photos/4 small
// screenshots of 1-8 KiB, so small files weigh as on a real phone.
func adbRows(ctx context.Context, c Config, src string) ([]Row, error) {
	var rows []Row
	dir := filepath.Join(c.Work, "adb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	skipped, err := withTB(dir, func(t *fakeTB) error {
		real := adbtest.StartRealServer(t)
		d := adbtest.NewDevice("")
		d.Prov.SetEmpty()
		files, bytes, err := mirrorTree(d, src, c.Size.Photos/4)
		if err != nil {
			return err
		}
		serial := real.Connect(t, d.Listen(t))
		what := fmt.Sprintf("%d files, %s", files, mb(bytes))

		// The three copies take turns, adbRounds times, and each keeps
		// its fastest: on a shared machine one slow moment must not
		// decide the ratio. Every copy is kept until the rows are done:
		// a copy right after the removal of the one before it paid for
		// ext4's skipping of the inodes just freed (this file system has
		// no journal, so its allocator passes over inodes freed in the
		// last seconds one by one; up to 80 us a file), and the round-0
		// pull alone did not. settle writes the last copy out and starts
		// each alike.
		var outs []string
		defer func() {
			for _, o := range outs {
				os.RemoveAll(o)
			}
		}()
		pull := func(i int) (time.Duration, error) {
			c.Log.Info("adb pull", "files", files, "round", i)
			dst := filepath.Join(dir, fmt.Sprintf("pulled-%d", i))
			outs = append(outs, dst)
			c.settle(src)
			cmd := exec.CommandContext(ctx, real.Bin, "-P", real.Port, "-s", serial, "pull", phoneStorage+"/DCIM", dst)
			cmd.Env = real.Env()
			t0 := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				return 0, fmt.Errorf("adb pull: %w: %s", err, out)
			}
			return time.Since(t0), nil
		}
		export := func(i, par int) (time.Duration, error) {
			c.Log.Info("adb export", "files", files, "parallel", par, "round", i)
			snap := filepath.Join(dir, fmt.Sprintf("snapshot-%d-%d", par, i))
			outs = append(outs, snap)
			c.settle(src)
			t0 := time.Now()
			ex, err := adbexp.Open(ctx, &adb.Client{Addr: real.Addr}, serial, adbexp.Options{Log: c.Log, Parallel: par})
			if err != nil {
				return 0, err
			}
			w, err := snapshot.Create(snap, snapshot.Options{Source: "adb:" + serial})
			if err != nil {
				return 0, err
			}
			if err := ex.Export(ctx, w); err != nil {
				return 0, fmt.Errorf("adb export: %w", err)
			}
			if err := w.Commit(ctx); err != nil {
				return 0, fmt.Errorf("adb export: %w", err)
			}
			d := time.Since(t0)
			if got := w.Counts().Media; got != files {
				return 0, fmt.Errorf("adb export copied %d media, want %d", got, files)
			}
			return d, nil
		}
		var pulls, exDef, ex1 []time.Duration
		for i := range adbRounds {
			d, err := pull(i)
			if err != nil {
				return err
			}
			pulls = append(pulls, d)
			if d, err = export(i, 0); err != nil {
				return err
			}
			exDef = append(exDef, d)
			if d, err = export(i, 1); err != nil {
				return err
			}
			ex1 = append(ex1, d)
		}
		best := func(ds []time.Duration) (time.Duration, string) {
			var all []string
			for _, d := range ds {
				all = append(all, secs(d))
			}
			return slices.Min(ds), "runs " + strings.Join(all, ", ")
		}
		pullDur, pullRuns := best(pulls)
		rows = append(rows, Row{ID: RowADBPull, Measure: fmt.Sprintf("`adb pull` of the phone's DCIM (real adb server, fake phone on loopback; best of %d)", adbRounds),
			Value: secs(pullDur), Ratio: "1.00x", Note: what + "; " + pullRuns, dur: pullDur})
		exDur, runs := best(exDef)
		rows = append(rows, Row{ID: RowADB, Measure: fmt.Sprintf("miexit ADB export of the same tree -> snapshot (defaults: %d sync sessions, sha256, manifest in walk order; best of %d)", adbexp.DefaultParallel, adbRounds),
			Value: secs(exDur), Ratio: speed(pullDur, exDur) + " the speed of adb pull", Note: what + "; " + runs + "; goal >= 1.00x", dur: exDur})
		exDur, runs = best(ex1)
		rows = append(rows, Row{ID: RowADB1, Measure: "the same with adb.Options.Parallel = 1 (one sync session, the default before session 4)",
			Value: secs(exDur), Ratio: speed(pullDur, exDur) + " the speed of adb pull", Note: what + "; " + runs + "; goal >= 1.00x", dur: exDur})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if skipped != "" {
		return []Row{
			{ID: RowADBPull, Measure: "`adb pull`", Value: "skipped", Note: skipped},
			{ID: RowADB, Measure: "miexit ADB export", Value: "skipped", Note: skipped},
			{ID: RowADB1, Measure: "miexit ADB export, 1 sync session", Value: "skipped", Note: skipped},
		}, nil
	}
	return rows, nil
}

// mirrorTree puts src/DCIM on the fake phone (generated bytes of the same
// sizes and dates, so nothing is held in memory) plus small screenshots,
// and returns how many files and bytes it holds.
func mirrorTree(d *adbtest.Device, src string, small int) (int, int64, error) {
	var n int
	var total int64
	root := filepath.Join(src, "DCIM")
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		n++
		total += fi.Size()
		d.Files.AddGenerated(path.Join(phoneStorage, "DCIM", filepath.ToSlash(rel)), fi.Size(), uint64(n), fi.ModTime())
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("mirror %s: %w", root, err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{11}))
	base := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := range small {
		size := int64(1<<10 + rng.IntN(7<<10))
		n++
		total += size
		d.Files.AddGenerated(fmt.Sprintf("%s/DCIM/Screenshots/Screenshot_%06d.png", phoneStorage, i), size, uint64(n), base.Add(time.Duration(i)*time.Minute))
	}
	return n, total, nil
}

// speed is how fast a is against the reference ref: ref's time over a's.
func speed(ref, a time.Duration) string {
	if a <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", ref.Seconds()/a.Seconds())
}
