package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/miexit/miexit/internal/pipeline"

	// The schemes the benchmark uses.
	_ "github.com/miexit/miexit/exporters/archive"
	_ "github.com/miexit/miexit/importers/dir"
)

// Config is one benchmark run.
type Config struct {
	Size Size
	// Work is a scratch folder; everything is written under it.
	Work string
	// RSS runs the memory figures: a migrate of RSSFiles small files and
	// of ten times as many, each in a child process.
	RSS      bool
	RSSFiles int
	RSSKB    int
	// Rclone is the rclone binary; "" looks it up on PATH, "-" skips it.
	Rclone string
	// Concurrency is pipeline.Options.Concurrency (0: the default).
	Concurrency int
	// NoADB and NoCloud leave out the ADB rows and the cloud rows.
	NoADB, NoCloud bool
	// DropCaches lets each step start with the page cache dropped (as
	// root) and its input read back into it (settle); the command sets
	// it, tests do not, so that go test never touches the machine's
	// cache.
	DropCaches bool
	Log        *slog.Logger
}

// Row is one figure of the table.
type Row struct {
	ID      string // stable, for tests and scripts
	Measure string
	Value   string
	Ratio   string
	Note    string

	dur time.Duration
}

// Report is a run's figures.
type Report struct {
	Machine string
	Date    time.Time
	Size    Size
	Data    Generated
	Rows    []Row
}

// Row IDs, in table order.
const (
	RowCp      = "cp"
	RowRclone  = "rclone"
	RowMigrate = "migrate"
	RowRerun   = "rerun"
	// RowRcloneRerun is rclone's no-op re-run, which #17 sets the bar by.
	RowRcloneRerun = "rclone-rerun"
	RowExport      = "export"
	RowImport      = "import"
	RowVerify      = "verify"
	RowSMS         = "sms"
	RowRSS1        = "rss-1x"
	RowRSS10       = "rss-10x"
	childEnv       = "MIEXIT_BENCH_CHILD"
	childArgsEnv   = "MIEXIT_BENCH_CHILD_ARGS"
)

// RowIDs lists every row a full run prints.
var RowIDs = []string{RowCp, RowRclone, RowMigrate, RowRerun, RowRcloneRerun, RowExport, RowImport, RowVerify, RowSMS,
	RowADBPull, RowADB, RowADB1, RowContacts, RowRawHTTP, RowDrive, RowDropbox, RowRawApart, RowDriveApart, RowDropboxApart, RowDriveMigrate, RowDropboxMigrate, RowRSS1, RowRSS10}

// Run generates the phone under c.Work and measures every figure.
func Run(ctx context.Context, c Config) (*Report, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.RSSFiles == 0 {
		c.RSSFiles = c.Size.Media()
	}
	if c.RSSKB == 0 {
		c.RSSKB = 4
	}
	rep := &Report{Machine: Machine(), Date: time.Now().UTC(), Size: c.Size}
	src := filepath.Join(c.Work, "phone")
	c.Log.Info("generating", "dir", src)
	var err error
	if rep.Data, err = Generate(ctx, src, c.Size); err != nil {
		return nil, fmt.Errorf("generate %s: %w", src, err)
	}
	add := func(r Row) { rep.Rows = append(rep.Rows, r) }
	files := fmt.Sprintf("%d files, %s", rep.Data.Files, mb(rep.Data.Bytes))

	// 1. The stock tools copy the same folder.
	c.Log.Info("cp -r")
	c.settle(src)
	cpDur, err := timeCmd(ctx, "cp", "-r", src, filepath.Join(c.Work, "cp"))
	if err != nil {
		return nil, err
	}
	add(Row{ID: RowCp, Measure: "`cp -r` of the phone folder", Value: secs(cpDur), Ratio: "1.00x", Note: files + ", no hashing, no fsync", dur: cpDur})
	var rcDur time.Duration
	rclone := c.Rclone
	if rclone == "" {
		rclone, _ = exec.LookPath("rclone")
	}
	if rclone == "-" {
		add(Row{ID: RowRclone, Measure: "`rclone copy`", Value: "skipped", Note: "-rclone -"})
	} else if rclone == "" {
		add(Row{ID: RowRclone, Measure: "`rclone copy`", Value: "skipped", Note: "rclone not installed (apt-get install rclone)"})
	} else {
		c.Log.Info("rclone copy")
		c.settle(src)
		rcDur, err = timeCmd(ctx, rclone, "copy", "--config", os.DevNull, src, filepath.Join(c.Work, "rclone"))
		if err != nil {
			return nil, err
		}
		add(Row{ID: RowRclone, Measure: "`rclone copy` (default options)", Value: secs(rcDur), Ratio: ratio(rcDur, cpDur) + " of cp", Note: "checks size+mtime, hashes to verify local copies", dur: rcDur})
	}

	// 2. migrate, first and again with nothing changed.
	// A re-run writes nothing: only the sync, so that it finds the
	// metadata and state files where the first run left them.
	mig := func(name string, again bool) (time.Duration, error) {
		state := filepath.Join(c.Work, name+"-state")
		o := pipeline.Options{StateDir: state, Log: c.Log, Concurrency: c.Concurrency}
		snap := filepath.Join(state, "snapshot")
		if again {
			unix.Sync()
		} else {
			c.settle(src)
		}
		t := time.Now()
		res, err := pipeline.Migrate(ctx, "archive:"+src, "dir:"+filepath.Join(c.Work, name), snap, o)
		d := time.Since(t)
		if err != nil {
			return d, fmt.Errorf("migrate: %w", err)
		}
		if !res.Verify.OK {
			return d, fmt.Errorf("migrate: verify found gaps: %v", res.Verify.Problems)
		}
		if got := res.Export.Counts; got.Media != c.Size.Media() || got.Messages != c.Size.SMS || got.Contacts != c.Size.Contacts {
			return d, fmt.Errorf("migrate exported %d media, %d messages, %d contacts; want %d, %d, %d",
				got.Media, got.Messages, got.Contacts, c.Size.Media(), c.Size.SMS, c.Size.Contacts)
		}
		return d, nil
	}
	c.Log.Info("migrate")
	migDur, err := mig("migrate", false)
	if err != nil {
		return nil, err
	}
	vs := ratio(migDur, cpDur) + " of cp"
	if rcDur > 0 {
		vs += ", " + ratio(migDur, rcDur) + " of rclone"
	}
	add(Row{ID: RowMigrate, Measure: "`migrate archive: -> dir:` (export, import, verify; fresh state)", Value: secs(migDur), Ratio: vs, Note: files, dur: migDur})
	// A re-run takes tens of milliseconds, where one sample moves by a
	// third on this kind of VM: the median of several.
	c.Log.Info("migrate again")
	reruns, err := samples(func() (time.Duration, error) { return mig("migrate", true) })
	if err != nil {
		return nil, err
	}
	reDur := median(reruns)
	add(Row{ID: RowRerun, Measure: "same migrate again, nothing changed", Value: msecs(reDur), Ratio: pct(reDur, migDur) + " of first run",
		Note: fmt.Sprintf("median of %d re-runs (%s); goal < 5%% and below rclone's no-op re-run", len(reruns), msList(reruns)), dur: reDur})
	if rcDur > 0 {
		c.Log.Info("rclone copy again")
		rcRuns, err := samples(func() (time.Duration, error) {
			unix.Sync()
			return timeCmd(ctx, rclone, "copy", "--config", os.DevNull, src, filepath.Join(c.Work, "rclone"))
		})
		if err != nil {
			return nil, err
		}
		rcRe := median(rcRuns)
		add(Row{ID: RowRcloneRerun, Measure: "`rclone copy` again, nothing to copy", Value: msecs(rcRe), Ratio: pct(rcRe, rcDur) + " of its first run",
			Note: fmt.Sprintf("median of %d (%s); miexit's re-run is %s of it", len(rcRuns), msList(rcRuns), ratio(reDur, rcRe)), dur: rcRe})
	} else {
		add(Row{ID: RowRcloneRerun, Measure: "`rclone copy` again", Value: "skipped", Note: "no rclone"})
	}

	// 3. Where the time goes: each step alone, with its own state.
	state := filepath.Join(c.Work, "steps-state")
	o := pipeline.Options{StateDir: state, Log: c.Log, Concurrency: c.Concurrency}
	snap := filepath.Join(c.Work, "steps-snapshot")
	dst := "dir:" + filepath.Join(c.Work, "steps-dest")
	c.Log.Info("export")
	c.settle(src)
	t := time.Now()
	if _, err := pipeline.Export(ctx, "archive:"+src, snap, o); err != nil {
		return nil, err
	}
	exDur := time.Since(t)
	add(Row{ID: RowExport, Measure: "export alone (phone -> snapshot)", Value: secs(exDur), Ratio: pct(exDur, migDur) + " of migrate", Note: ratio(exDur, cpDur) + " of cp", dur: exDur})
	c.Log.Info("import")
	c.settle(snap)
	t = time.Now()
	if _, err := pipeline.Import(ctx, snap, dst, o); err != nil {
		return nil, err
	}
	imDur := time.Since(t)
	add(Row{ID: RowImport, Measure: "import alone (snapshot -> dir:)", Value: secs(imDur), Ratio: pct(imDur, migDur) + " of migrate", Note: ratio(imDur, cpDur) + " of cp", dur: imDur})
	c.Log.Info("verify")
	c.settle(snap, filepath.Join(c.Work, "steps-dest"))
	t = time.Now()
	vr, err := pipeline.Verify(ctx, snap, dst, o)
	if err != nil {
		return nil, err
	}
	if !vr.OK {
		return nil, fmt.Errorf("verify found gaps: %v", vr.Problems)
	}
	veDur := time.Since(t)
	add(Row{ID: RowVerify, Measure: "verify alone (re-reads and hashes dir:)", Value: secs(veDur), Ratio: pct(veDur, migDur) + " of migrate", Note: ratio(veDur, cpDur) + " of cp", dur: veDur})

	// 4. SMS JSONL -> snapshot (messages.jsonl and the B&R XML).
	smsSrc := filepath.Join(c.Work, "sms-phone")
	if err := os.MkdirAll(smsSrc, 0o755); err != nil {
		return nil, err
	}
	if err := os.Link(filepath.Join(src, "messages", "messages.jsonl"), filepath.Join(smsSrc, "messages.jsonl")); err != nil {
		return nil, fmt.Errorf("sms source: %w", err)
	}
	c.Log.Info("sms")
	// The phone folder too: the ADB and cloud rows after this read it.
	c.settle(smsSrc, src)
	t = time.Now()
	sres, err := pipeline.Export(ctx, "archive:"+smsSrc, filepath.Join(c.Work, "sms-snapshot"), pipeline.Options{StateDir: filepath.Join(c.Work, "sms-state"), Log: c.Log, Concurrency: c.Concurrency})
	if err != nil {
		return nil, err
	}
	smsDur := time.Since(t)
	if sres.Counts.Messages != c.Size.SMS {
		return nil, fmt.Errorf("sms export wrote %d messages, want %d", sres.Counts.Messages, c.Size.SMS)
	}
	add(Row{ID: RowSMS, Measure: fmt.Sprintf("%d SMS JSONL -> snapshot (JSONL + B&R XML)", c.Size.SMS), Value: secs(smsDur),
		Ratio: fmt.Sprintf("%.0f msg/s", float64(c.Size.SMS)/smsDur.Seconds()), Note: "issue goal: 100,000 in < 3 s", dur: smsDur})

	// 5. ADB export against adb pull.
	if c.NoADB {
		add(Row{ID: RowADBPull, Measure: "`adb pull`", Value: "skipped", Note: "-adb=false"})
		add(Row{ID: RowADB, Measure: "miexit ADB export", Value: "skipped", Note: "-adb=false"})
		add(Row{ID: RowADB1, Measure: "miexit ADB export, 1 sync session", Value: "skipped", Note: "-adb=false"})
	} else {
		rows, err := adbRows(ctx, c, src)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, rows...)
	}

	// 6. Contacts, Drive and Dropbox on their fakes.
	if c.NoCloud {
		for _, id := range []string{RowContacts, RowRawHTTP, RowDrive, RowDropbox, RowRawApart, RowDriveApart, RowDropboxApart, RowDriveMigrate, RowDropboxMigrate} {
			add(Row{ID: id, Measure: id, Value: "skipped", Note: "-cloud=false"})
		}
	} else {
		rows, err := cloudRows(ctx, c, src)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, rows...)
	}

	// 7. Peak RSS of a migrate in a child process at 1x and 10x files.
	if !c.RSS {
		add(Row{ID: RowRSS1, Measure: "peak RSS, migrate", Value: "skipped", Note: "-rss=false"})
		add(Row{ID: RowRSS10, Measure: "peak RSS, migrate 10x", Value: "skipped", Note: "-rss=false"})
		return rep, nil
	}
	var rss1 int64
	for i, n := range []int{c.RSSFiles, 10 * c.RSSFiles} {
		dir := filepath.Join(c.Work, fmt.Sprintf("rss-%d", n))
		c.Log.Info("rss", "files", n)
		if err := GenerateSmall(ctx, filepath.Join(dir, "phone"), n, c.RSSKB); err != nil {
			return nil, err
		}
		rss, d, err := childMigrate(ctx, dir, c.Concurrency)
		if err != nil {
			return nil, err
		}
		r := Row{ID: RowRSS1, Measure: fmt.Sprintf("peak RSS, migrate of %d × %d KiB files (child process, its VmHWM)", n, c.RSSKB), Value: mb(rss),
			Note: fmt.Sprintf("took %s, %.0f files/s", secs(d), float64(n)/d.Seconds()), Ratio: "1.00x"}
		if i == 0 {
			rss1 = rss
		} else {
			r.ID = RowRSS10
			r.Ratio = fmt.Sprintf("%.2fx of 1x", float64(rss)/float64(rss1))
			r.Note += "; goal < 1.2x and < 150 MB"
		}
		add(r)
	}
	return rep, nil
}

type childArgs struct {
	Src, Dst, State string
	Concurrency     int
	HWMFile         string
	// Phase is "export", "import" or "verify" to run that step alone
	// (Src -> State/snapshot -> Dst); empty runs the whole migrate.
	Phase string
	// HeapProfile, when set, receives a heap profile taken at the
	// highest live heap the phase reached.
	HeapProfile string
}

// childMigrate re-executes this binary to migrate dir/phone, and returns
// the child's peak RSS. The child reports its own VmHWM: the rusage
// Maxrss that wait4 returns is useless here, because Go starts children
// with vfork and Linux carries the parent's high-water mark into the
// child's ru_maxrss at exec (it read the same figure for 5,000 and 50,000
// files).
func childMigrate(ctx context.Context, dir string, concurrency int) (int64, time.Duration, error) {
	st, d, err := runChild(ctx, dir, childArgs{Concurrency: concurrency})
	return st.HWM, d, err
}

// childStats is what a child reports about its memory.
type childStats struct {
	HWM      int64  // VmHWM: peak resident set
	RssFile  int64  // RssFile at the end: mapped files (the ledger's bbolt mmap, the binary)
	PeakLive uint64 // highest live heap after a GC
	PeakAnon int64  // highest RssAnon sampled
}

// runChild runs one child on dir/phone with a's phase and profile.
func runChild(ctx context.Context, dir string, a childArgs) (childStats, time.Duration, error) {
	var st childStats
	self, err := os.Executable()
	if err != nil {
		return st, 0, err
	}
	hwm := filepath.Join(dir, "vmhwm")
	os.Remove(hwm)
	a.Src, a.Dst, a.State, a.HWMFile = filepath.Join(dir, "phone"), filepath.Join(dir, "dest"), filepath.Join(dir, "state"), hwm
	args, _ := json.Marshal(a)
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"=1", childArgsEnv+"="+string(args))
	cmd.Stderr = os.Stderr
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return st, 0, fmt.Errorf("child %s of %s: %w", a.Phase, dir, err)
	}
	d := time.Since(t)
	b, err := os.ReadFile(hwm)
	if err != nil {
		return st, d, fmt.Errorf("child %s of %s: no peak RSS: %w", a.Phase, dir, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, d, fmt.Errorf("child %s of %s: peak RSS %q: %w", a.Phase, dir, b, err)
	}
	return st, d, nil
}

// procStatus reads one of this process's memory figures (VmHWM,
// RssFile) from /proc/self/status, in bytes.
func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("/proc/self/status: odd %s line %q", field, line)
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no %s", field)
}

// MaybeChild runs the child side of childMigrate and exits when this
// process was started as one; call it first in main and TestMain.
func MaybeChild() {
	if kind, ok := strings.CutPrefix(os.Getenv(childEnv), fakeChildPrefix); ok {
		if err := serveFake(kind, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench fake:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	if os.Getenv(childEnv) != "1" {
		return
	}
	var a childArgs
	if err := json.Unmarshal([]byte(os.Getenv(childArgsEnv)), &a); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		os.Exit(2)
	}
	stop := watchHeap(a.HeapProfile)
	err := runPhase(context.Background(), a)
	var st childStats
	var perr error
	st.PeakLive, st.PeakAnon, perr = stop()
	err = errors.Join(err, perr)
	if err == nil {
		st.HWM, err = procStatus("VmHWM")
	}
	if err == nil {
		st.RssFile, err = procStatus("RssFile")
	}
	if err == nil {
		b, _ := json.Marshal(st)
		err = os.WriteFile(a.HWMFile, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runPhase(ctx context.Context, a childArgs) error {
	o := pipeline.Options{StateDir: a.State, Concurrency: a.Concurrency}
	snap, src, dst := filepath.Join(a.State, "snapshot"), "archive:"+a.Src, "dir:"+a.Dst
	switch a.Phase {
	case "":
		res, err := pipeline.Migrate(ctx, src, dst, snap, o)
		if err == nil && !res.Verify.OK {
			err = fmt.Errorf("verify found gaps: %v", res.Verify.Problems)
		}
		return err
	case "export":
		_, err := pipeline.Export(ctx, src, snap, o)
		return err
	case "import":
		_, err := pipeline.Import(ctx, snap, dst, o)
		return err
	case "verify":
		res, err := pipeline.Verify(ctx, snap, dst, o)
		if err == nil && !res.OK {
			err = fmt.Errorf("verify found gaps: %v", res.Problems)
		}
		return err
	}
	return fmt.Errorf("unknown phase %q", a.Phase)
}

func timeCmd(ctx context.Context, name string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	t := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return time.Since(t), nil
}

// Machine describes where the figures were measured.
func Machine() string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		mem = ", " + strings.Join(strings.Fields(line), " ")
	}
	return fmt.Sprintf("%s/%s, %d CPUs (nproc), %s%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), mem)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// rerunSamples is how many unchanged re-runs the rerun rows take the median of.
const rerunSamples = 5

func msecs(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func msList(ds []time.Duration) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(msecs(d))
	}
	return b.String()
}

// samples times run rerunSamples times.
func samples(run func() (time.Duration, error)) ([]time.Duration, error) {
	var ds []time.Duration
	for range rerunSamples {
		d, err := run()
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// median of ds (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds())
}
func pct(a, b time.Duration) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*a.Seconds()/b.Seconds())
}

// Markdown writes the report as a table.
func (r *Report) Markdown(w io.Writer) error {
	s := r.Size
	fmt.Fprintf(w, "Machine: %s  \nDate: %s  \nData: %d photos (~%d KiB) + %d videos (%d MiB) = %d media, %d SMS, %d contacts with photos; %d files, %s\n\n",
		r.Machine, r.Date.Format(time.RFC3339), s.Photos, s.PhotoKB, s.Videos, s.VideoMB, s.Media(), s.SMS, s.Contacts, r.Data.Files, mb(r.Data.Bytes))
	fmt.Fprintln(w, "| id | measure | value | ratio | note |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, x := range r.Rows {
		if _, err := fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", x.ID, x.Measure, x.Value, x.Ratio, x.Note); err != nil {
			return err
		}
	}
	return nil
}

// settle writes out what earlier steps left in the page cache, so a step
// does not pay for the one before it (cp's and rclone's gigabyte being
// written back while migrate runs). Where it may (root), it also drops the
// page cache and reads the step's inputs (warm) back into it, so that
// every step writes into memory the VM has already handed the guest: with
// the sync alone, back-to-back -full migrates spent 1.6 s and 4.5 s in
// the kernel, the difference being its memcpy into page-cache pages never
// used before, three to four times slower here; each step after this
// starts alike.
func (c Config) settle(warm ...string) {
	unix.Sync()
	if !c.DropCaches || os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0) != nil {
		return
	}
	for _, dir := range warm {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if f, err := os.Open(p); err == nil {
				io.Copy(io.Discard, f)
				f.Close()
			}
			return nil
		})
	}
}
