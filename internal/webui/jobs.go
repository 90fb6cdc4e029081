package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/migrate"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/report"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// JobFile is the page's job record in the state dir: the last migrate it
// started, where it stands and what it found, so a page opened after the
// program was closed can show it or resume it.
const JobFile = "ui-job.json"

// Job statuses.
const (
	Running     = "running"
	Done        = "done"
	Failed      = "failed"
	Cancelled   = "cancelled"
	Interrupted = "interrupted" // the program stopped while it ran
)

// Record is one migrate started from the page. It holds no secret: a
// backup's password is asked again on resume.
type Record struct {
	ID      string    `json:"id"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Status  string    `json:"status"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Error   string    `json:"error,omitempty"`
	Result  *Result   `json:"result,omitempty"`
	// Progress is the last progress seen, kept for a page that opens
	// after the job ended.
	Progress []KindProgress `json:"progress,omitempty"`
}

// Resumable: a migrate that did not finish; running it again copies only
// what is missing.
func (r *Record) Resumable() bool {
	return r != nil && (r.Status == Cancelled || r.Status == Interrupted || r.Status == Failed)
}

// Result is what the page shows after a migrate: the verify table, the
// summary, the report's pictures and the next step.
type Result struct {
	Snapshot string           `json:"snapshot"`
	Counts   mapping.Counts   `json:"counts"`
	Verify   verify.Result    `json:"verify"`
	Problems int              `json:"problems"` // all of them; Verify.Problems holds the first maxShown
	Summary  []report.Row     `json:"summary"`
	Failures []report.Failure `json:"failures"`
	Pictures []report.Thumb   `json:"pictures"`
	Safe     bool             `json:"safe"`
	NextStep string           `json:"next_step"`
	Report   string           `json:"report,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
}

// maxShown bounds the problems and failures the page lists.
const maxShown = 100

func resultOf(out migrate.Outcome) *Result {
	v := out.Verify
	n := len(v.Problems)
	v.Problems = v.Problems[:min(n, maxShown)]
	return &Result{
		Snapshot: out.Export.Dir, Counts: out.Export.Counts, Verify: v, Problems: n,
		Summary: out.Summary, Failures: out.Failures[:min(len(out.Failures), maxShown)],
		Pictures: report.Thumbnails(out.Pictures), Safe: out.Safe, NextStep: out.NextStep,
		Report: out.Report, Warnings: out.Warnings,
	}
}

// jobs runs at most one migrate at a time.
type jobs struct {
	s    *Server
	base context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	current *job // nil when none runs
	last    *Record

	// beforeRun, when set (tests), runs in the job before the migrate, so
	// a test can hold a job running.
	beforeRun func(ctx context.Context)
}

type job struct {
	rec     Record
	cancel  context.CancelFunc
	track   *tracker
	done    chan struct{}
	stopped bool // cancelled by the person
}

func newJobs(s *Server) *jobs {
	// The job outlives the request that started it (the page may close),
	// not the server.
	ctx, stop := context.WithCancel(context.Background())
	j := &jobs{s: s, base: ctx, stop: stop}
	j.last = j.load()
	return j
}

func (j *jobs) path() string { return filepath.Join(j.s.opt.StateDir, JobFile) }

// load reads the record; one left "running" was interrupted.
func (j *jobs) load() *Record {
	b, err := os.ReadFile(j.path())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			j.s.opt.Log.Warn("ui: the last job's record cannot be read; starting without it", "file", j.path(), "err", err)
		}
		return nil
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		j.s.opt.Log.Warn("ui: the last job's record is damaged; starting without it", "file", j.path(), "err", err)
		return nil
	}
	if r.Status == Running {
		r.Status = Interrupted
		r.Error = "miexit was closed while this migrate ran; resume it to finish (what was copied stays copied)"
	}
	return &r
}

// save writes the record 0600 (it names the person's folders).
func (j *jobs) save(r Record) {
	b, err := json.Marshal(r)
	if err == nil {
		err = os.MkdirAll(j.s.opt.StateDir, 0o700)
	}
	if err == nil {
		err = fsutil.WriteFile(j.path(), b, true)
	}
	if err != nil {
		j.s.opt.Log.Warn("ui: the job record was not saved; the page cannot resume this job after a restart", "file", j.path(), "err", err)
	}
}

// errBusy is a second job while one runs.
type errBusy struct{ rec Record }

func (e errBusy) Error() string {
	return fmt.Sprintf("a migrate is already running (%s to %s, started %s): wait for it or cancel it; nothing was started twice",
		e.rec.From, e.rec.To, e.rec.Started.Local().Format("15:04:05"))
}

// start runs a migrate from -> to, unless one runs.
func (j *jobs) start(from, to, password string) (Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.current != nil {
		return Record{}, errBusy{j.current.rec}
	}
	id, _ := NewToken()
	ctx, cancel := context.WithCancel(j.base)
	jb := &job{
		rec:    Record{ID: id[:12], From: from, To: to, Status: Running, Started: time.Now().UTC()},
		cancel: cancel, track: newTracker(), done: make(chan struct{}),
	}
	j.current = jb
	j.save(jb.rec)
	o := pipeline.Options{
		StateDir: j.s.opt.StateDir, ConfigDir: j.s.opt.ConfigDir, Password: password,
		Concurrency: j.s.opt.Concurrency, Log: j.s.opt.Log,
		Progress: jb.track, Totals: jb.track.SetTotal,
	}
	go j.run(ctx, jb, o)
	return jb.rec, nil
}

func (j *jobs) run(ctx context.Context, jb *job, o pipeline.Options) {
	defer close(jb.done)
	if j.beforeRun != nil {
		j.beforeRun(ctx)
	}
	out, err := migrate.Run(ctx, jb.rec.From, jb.rec.To, "", o)
	rec := jb.rec
	rec.Ended = time.Now().UTC()
	rec.Progress = jb.track.snapshot()
	j.mu.Lock()
	stopped := jb.stopped
	j.mu.Unlock()
	switch {
	case err != nil && stopped:
		rec.Status, rec.Error = Cancelled, "cancelled; resume it to finish (what was copied stays copied)"
	case err != nil && ctx.Err() != nil:
		rec.Status, rec.Error = Interrupted, "miexit was closed while this migrate ran; resume it to finish (what was copied stays copied)"
	case err != nil:
		rec.Status, rec.Error = Failed, err.Error()
	default:
		rec.Status = Done
		rec.Result = resultOf(out)
	}
	j.s.opt.Log.Info("ui: migrate ended", "from", rec.From, "to", rec.To, "status", rec.Status, "err", err)
	j.save(rec)
	j.mu.Lock()
	j.current, j.last = nil, &rec
	j.mu.Unlock()
	jb.cancel()
}

// cancel stops the running job and waits until it has stopped.
func (j *jobs) cancelCurrent() bool {
	j.mu.Lock()
	jb := j.current
	if jb != nil {
		jb.stopped = true
	}
	j.mu.Unlock()
	if jb == nil {
		return false
	}
	jb.cancel()
	<-jb.done
	return true
}

func (j *jobs) close() {
	j.mu.Lock()
	jb := j.current
	j.mu.Unlock()
	j.stop()
	if jb != nil {
		<-jb.done
	}
}

// status is the running job (with its progress) or the last one.
func (j *jobs) status() (cur *job, last *Record) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.current, j.last
}

// KindProgress is one phase and kind's progress, as the page shows it.
type KindProgress struct {
	Phase   string       `json:"phase"`
	Kind    mapping.Kind `json:"kind"`
	Items   int64        `json:"items"`
	Total   int64        `json:"total,omitempty"` // 0: not known
	Bytes   int64        `json:"bytes"`
	Failed  int64        `json:"failed"`
	Skipped int64        `json:"skipped"`
	// ETA is the seconds left at this kind's pace so far, when the total
	// is known; -1 otherwise.
	ETA float64 `json:"eta"`
}

// tracker is the page's progress.Reporter: counts per phase and kind.
type tracker struct {
	mu      sync.Mutex
	rows    map[[2]string]*trackRow
	order   [][2]string
	totals  map[mapping.Kind]int64
	changed int64
}

type trackRow struct {
	KindProgress
	first time.Time
}

func newTracker() *tracker {
	return &tracker{rows: map[[2]string]*trackRow{}, totals: map[mapping.Kind]int64{}}
}

// Report implements progress.Reporter.
func (t *tracker) Report(e progress.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := [2]string{e.Phase, string(e.Kind)}
	r := t.rows[key]
	if r == nil {
		r = &trackRow{KindProgress: KindProgress{Phase: e.Phase, Kind: e.Kind}, first: time.Now()}
		t.rows[key] = r
		t.order = append(t.order, key)
	}
	r.Items++
	r.Bytes += e.Bytes
	switch e.Action {
	case progress.Failed:
		r.Failed++
	case progress.Skipped, progress.NotUnderstood, progress.Thumbnail:
		r.Skipped++
	}
	t.changed++
}

// SetTotal is pipeline.Options.Totals: the import announces its totals.
func (t *tracker) SetTotal(k mapping.Kind, items int64) {
	t.mu.Lock()
	t.totals[k] = items
	t.changed++
	t.mu.Unlock()
}

// snapshot returns the rows in the order they first appeared.
func (t *tracker) snapshot() []KindProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]KindProgress, 0, len(t.order))
	for _, key := range t.order {
		r := t.rows[key]
		p := r.KindProgress
		p.ETA = -1
		if p.Phase == "import" {
			p.Total = t.totals[p.Kind]
		}
		if p.Total > 0 && p.Items > 0 && p.Items < p.Total {
			per := time.Since(r.first).Seconds() / float64(p.Items)
			p.ETA = per * float64(p.Total-p.Items)
		}
		out = append(out, p)
	}
	return out
}

func (t *tracker) version() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

// checkFrom refuses a source the page cannot have meant: an unknown
// scheme, or a backup folder or zip that does not exist.
func checkFrom(from string) error {
	scheme, arg, _ := strings.Cut(from, ":")
	switch scheme {
	case "archive":
		if strings.TrimSpace(arg) == "" {
			return errors.New("type the path of the backup folder or zip")
		}
		if _, err := os.Stat(arg); err != nil {
			return fmt.Errorf("the backup folder or zip %s does not exist (or cannot be read): check the path", arg)
		}
		return nil
	case "adb", "micloud":
		return nil
	}
	return fmt.Errorf("unknown source %q: choose a phone, a backup folder or zip, or Mi Cloud", from)
}

// checkTo refuses a destination the page cannot have meant. A local
// folder may not exist yet, but the folder it goes in must.
func checkTo(to string) error {
	scheme, arg, _ := strings.Cut(to, ":")
	switch scheme {
	case "dir":
		if strings.TrimSpace(arg) == "" {
			return errors.New("type the path of the folder to copy into")
		}
		parent := filepath.Dir(filepath.Clean(arg))
		if st, err := os.Stat(parent); err != nil || !st.IsDir() {
			return fmt.Errorf("the folder %s, where %s would be made, does not exist: check the path", parent, filepath.Base(arg))
		}
		return nil
	case "google", "dropbox", "onedrive":
		return nil
	}
	return fmt.Errorf("unknown destination %q: choose a local folder, Google, Dropbox or OneDrive", to)
}

type startRequest struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Password string `json:"password,omitempty"`
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := errors.Join(checkFrom(req.From), checkTo(req.To)); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.startJob(w, req)
}

func (s *Server) startJob(w http.ResponseWriter, req startRequest) {
	rec, err := s.jobs.start(req.From, req.To, req.Password)
	var busy errBusy
	if errors.As(err, &busy) {
		fail(w, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, rec)
}

func (s *Server) handleResume(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password,omitempty"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	_, last := s.jobs.status()
	if !last.Resumable() {
		fail(w, http.StatusConflict, "there is no unfinished migrate to resume: start one")
		return
	}
	if err := errors.Join(checkFrom(last.From), checkTo(last.To)); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.startJob(w, startRequest{From: last.From, To: last.To, Password: req.Password})
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	if !s.jobs.cancelCurrent() {
		fail(w, http.StatusConflict, "no migrate is running")
		return
	}
	_, last := s.jobs.status()
	writeJSON(w, http.StatusOK, last)
}

// eventEvery paces the progress events: a person cannot read faster, and
// a run of a million items must not send a million events.
var eventEvery = 250 * time.Millisecond

// handleEvents streams the running job's progress as server-sent events
// ("progress"), then its record ("end"); with no job running it sends the
// last record ("idle") and ends.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	send := func(event string, v any) error {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	cur, last := s.jobs.status()
	if cur == nil {
		send("idle", last)
		return
	}
	tick := time.NewTicker(eventEvery)
	defer tick.Stop()
	seen := int64(-1)
	for {
		if v := cur.track.version(); v != seen {
			seen = v
			if send("progress", map[string]any{"job": cur.rec, "progress": cur.track.snapshot()}) != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-cur.done:
			_, last := s.jobs.status()
			send("end", last)
			return
		case <-tick.C:
		}
	}
}
