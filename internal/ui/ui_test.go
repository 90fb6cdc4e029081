package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/mapping"
)

// syncBuffer lets the test read what a reporter wrote while -race watches.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock advances only when told, so pacing is tested without timing.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestPlainPacesLinesByItemsAndTime(t *testing.T) {
	var out syncBuffer
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := NewPlain(&out, Options{Every: 10 * time.Second, EveryItems: 3})
	p.now = clk.now
	p.SetTotal(mapping.KindMedia, 10)
	ev := progress.Event{Phase: "import", Kind: mapping.KindMedia, Action: progress.Copied, Bytes: 1 << 20}

	p.Report(ev)
	p.Report(ev)
	if got := out.String(); got != "" {
		t.Fatalf("line written before 3 items or 10 s: %q", got)
	}
	clk.add(2 * time.Second)
	p.Report(ev) // third item: a line
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || lines[0] != "import: media 3/10 (3.0 MiB, 1.5 MiB/s)" {
		t.Fatalf("after 3 items got %q", lines)
	}
	clk.add(10 * time.Second)
	p.Report(progress.Event{Phase: "import", Kind: mapping.KindMedia, Item: "DCIM/a.jpg", Action: progress.Failed, Err: "quota exceeded"})
	want := []string{
		"import: media 3/10 (3.0 MiB, 1.5 MiB/s)",
		"import: failed media DCIM/a.jpg: quota exceeded",
		"import: media 4/10 (3.0 MiB, 256.0 KiB/s), 1 failed",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after 10 s got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p.Report(progress.Event{Phase: "verify", Kind: mapping.KindContact, Action: progress.Unchanged})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.Report(ev) // after Close: dropped
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := got[len(got)-1]; last != "verify: contact 1" {
		t.Errorf("final line = %q, want the new phase's tally", last)
	}
	if len(got) != 4 {
		t.Errorf("got %d lines, want 4 (an event after Close must not write): %q", len(got), got)
	}
}

func TestPlainConcurrentReportsAllCounted(t *testing.T) {
	var out syncBuffer
	p := NewPlain(&out, Options{Every: time.Hour, EveryItems: 1 << 30})
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p.Report(progress.Event{Phase: "import", Kind: mapping.Kinds[w%2], Item: fmt.Sprint(i), Action: progress.Copied, Bytes: 1})
			}
		}()
	}
	wg.Wait()
	p.Close()
	got := strings.TrimSpace(out.String())
	for _, want := range []string{fmt.Sprintf("import: contact %d (2.0 KiB", workers/2*each), fmt.Sprintf("; message %d (2.0 KiB", workers/2*each)} {
		if !strings.Contains(got, want) {
			t.Errorf("final line = %q, want it to contain %q", got, want)
		}
	}
	if strings.Count(got, "\n") != 0 {
		t.Errorf("wrote %q, want one final line", got)
	}
}

func TestBarsConcurrentReportsCloseCleanly(t *testing.T) {
	var out syncBuffer
	b := NewBars(&out, mpb.WithAutoRefresh())
	b.SetTotal(mapping.KindMedia, 100)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				a := progress.Copied
				if i == 0 && w == 0 {
					a = progress.Failed
				}
				b.Report(progress.Event{Phase: "import", Kind: mapping.Kinds[w%3], Item: fmt.Sprint(i), Action: a, Bytes: 2048, Err: "boom"})
			}
		}()
	}
	b.SetTotal(mapping.KindContact, 50)
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	b.Report(progress.Event{Phase: "import", Kind: mapping.KindMedia, Action: progress.Copied}) // after Close: dropped, no panic
	got := out.String()
	for _, want := range []string{"import contact", "import message", "100/50", "(1 failed)", "failed contact 0: boom"} {
		if !strings.Contains(got, want) {
			t.Errorf("bars output lacks %q:\n%s", want, got)
		}
	}
}

func TestBarsCloseWithoutEvents(t *testing.T) {
	b := NewBars(&syncBuffer{})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewChoosesPlainWhenNotATerminal(t *testing.T) {
	if _, ok := New(&syncBuffer{}, Options{}).(*Plain); !ok {
		t.Error("New on a buffer did not choose the plain reporter")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file taken for a terminal")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestJSONLinesParseUnderConcurrency(t *testing.T) {
	var out syncBuffer
	var p Progress = NewJSON(&out)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				p.Report(progress.Event{Phase: "export", Kind: mapping.KindMessage, Item: fmt.Sprintf("%d-%d \"😀\"", w, i), Action: progress.Copied, Bytes: 10})
			}
		}()
	}
	wg.Wait()
	p.Close()
	p.Report(progress.Event{Phase: "late"})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		var e progress.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Phase != "export" || !strings.HasSuffix(e.Item, "\"😀\"") {
			t.Fatalf("line %q: %+v, %v", l, e, err)
		}
	}
}
