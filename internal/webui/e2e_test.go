package webui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	samplegen "github.com/miexit/miexit/internal/sample"
)

// browser starts headless Chromium (Debian's chromium) for the test, or
// skips when it is not installed, except in CI, where it must be.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; CI must run the page's end-to-end test (apt-get install chromium)")
		}
		t.Skip("chromium is not installed; the page's end-to-end test needs it (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1000, 900),
		chromedp.Flag("disable-gpu", true),
		// A private profile: nothing of the person's browser is used.
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root (CI containers).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })

	// Every script error and console error (a CSP violation among them)
	// fails the test: the page must work with its own strict policy.
	var mu sync.Mutex
	var problems []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			// The 400s the test provokes on purpose are the browser's
			// network log, not the page's fault.
			if strings.Contains(m.Text, "status of 400") {
				continue
			}
			mu.Lock()
			problems = append(problems, string(m.Type)+": "+m.Text)
			mu.Unlock()
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// waitText waits until the element's text holds want, and returns it.
func waitText(ctx context.Context, sel, want string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var got string
	for {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
		if err == nil && strings.Contains(got, want) {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("%s never said %q (last: %q): %w", sel, want, got, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestPageFromSourceChoiceToTheVerdict drives the real page in headless
// Chromium through the README's sample archive: a missing folder first (a
// clear message, nothing started), then the sample, its inventory, a
// local folder, the copy, the verify table and the checklist, which ends
// in "not safe yet" naming the sample's reduced copy, as the report does
// (TestPageCancelThenResume ends in "Safe to sign out" on the sample
// without it). With MIEXIT_UI_SCREENSHOTS=DIR it saves the screenshots
// docs/img holds.
func TestPageFromSourceChoiceToTheVerdict(t *testing.T) {
	ctx, problems := browser(t)
	shots := os.Getenv("MIEXIT_UI_SCREENSHOTS")
	var tweak func(*Options)
	if shots != "" {
		// The screenshots show paths a reader could have: no test names.
		state := filepath.Join(os.TempDir(), "miexit-state")
		os.RemoveAll(state)
		t.Cleanup(func() { os.RemoveAll(state) })
		tweak = func(o *Options) { o.StateDir = state }
	}
	xiaomiPhone(t)
	p := newPage(t, tweak)
	abs, err := filepath.Abs(sample)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "miexit-backup")
	if shots != "" {
		abs = filepath.Join(os.TempDir(), "sample")
		os.RemoveAll(abs)
		if err := os.CopyFS(abs, os.DirFS(sample)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(abs) })
		out = filepath.Join(os.TempDir(), "miexit-backup")
		os.RemoveAll(out)
		t.Cleanup(func() { os.RemoveAll(out) })
	}
	// shoot saves a screenshot of one section of the page.
	shoot := func(name, sel string) error {
		if shots == "" {
			return nil
		}
		b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel), chromedp.NodeVisible))
		if err != nil {
			return fmt.Errorf("screenshot of %s: %w", sel, err)
		}
		return os.WriteFile(filepath.Join(shots, name), b, 0o644)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// clear empties a text field as a person selecting all and deleting would.
	clear := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void]("document.querySelector(" + strconv.Quote(sel) + ").value = ''")
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(p.srv.URL()),
		chromedp.WaitVisible(css("#step-source")),
		chromedp.Click(css("#src-adb")),
	)
	if err != nil {
		t.Fatalf("open the page and look for phones: %v", err)
	}
	if _, err := waitText(ctx, "#devices", "HyperOS OS1.0"); err != nil {
		t.Fatalf("the phone list: %v", err)
	}
	if err := shoot("ui-phone.png", "#step-source"); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css("#src-archive")),
		chromedp.SendKeys(css("#archive-path"), "/no/such/backup"),
		chromedp.Click(css("#inventory-btn")),
	)
	if err != nil {
		t.Fatalf("choose a missing folder: %v", err)
	}
	if msg, err := waitText(ctx, "#source-msg", "does not exist"); err != nil {
		t.Fatalf("a missing folder: %v", err)
	} else if !strings.Contains(msg, "/no/such/backup") {
		t.Errorf("the message %q does not name the folder", msg)
	}

	err = chromedp.Do(ctx,
		clear("#archive-path"),
		chromedp.SendKeys(css("#archive-path"), abs),
		chromedp.Click(css("#inventory-btn")),
	)
	if err == nil {
		_, err = waitText(ctx, "#inventory", "contacts")
	}
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.TextContent(css("#source-msg")))
		t.Fatalf("inventory of the sample: %v (the page says %q)", err, msg)
	}
	inv, err := chromedp.Run(ctx, chromedp.Text(css("#inventory")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"contacts\t7", "messages\t11", "reduced copies only\t1"} {
		if !strings.Contains(inv, want) {
			t.Errorf("inventory %q lacks %q", inv, want)
		}
	}

	err = chromedp.Do(ctx,
		chromedp.Click(css("#dest-dir")),
		clear("#dir-path"),
		chromedp.SendKeys(css("#dir-path"), out),
	)
	if err == nil {
		err = errors.Join(shoot("ui-source.png", "#step-source"), shoot("ui-destination.png", "#step-dest"))
	}
	if err == nil {
		err = chromedp.Do(ctx, chromedp.Click(css("#start-btn")))
	}
	if err != nil {
		t.Fatalf("start the copy: %v", err)
	}
	verdict, err := waitText(ctx, "#checklist-verdict", "only reduced copies")
	if err != nil {
		t.Fatalf("the checklist: %v", err)
	}
	if !strings.HasPrefix(verdict, "Not safe to sign out yet") {
		t.Errorf("verdict %q", verdict)
	}
	count := func(sel string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll("+strconv.Quote(sel)+").length"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	table, err := chromedp.Run(ctx, chromedp.Text(css("#verify-table")))
	if err != nil {
		t.Fatal(err)
	}
	if n := count("#verify-table tbody tr"); n != 6 || !strings.Contains(table, "contact\t7\t7\t0\t0\t0") {
		t.Errorf("verify table (%d rows): %q", n, table)
	}
	next, _ := chromedp.Run(ctx, chromedp.Text(css("#next-step")))
	if !strings.Contains(next, "reduced copies") {
		t.Errorf("next step %q does not name the reduced copy", next)
	}
	// The checklist says it itself: no second box repeating the report.
	if vis, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!document.querySelector('#checklist-also').hidden")); err != nil || vis {
		t.Errorf("the checklist-also box is shown (%v): the verdict already names the reduced copy", err)
	}
	if n := count("#pictures img"); n != 1 {
		t.Errorf("%d thumbnails, want the sample's one reduced copy", n)
	}
	if n := count("#checklist-steps li"); n != 5 {
		t.Errorf("%d checklist steps, want 5", n)
	}
	if err := errors.Join(shoot("ui-copy.png", "#step-copy"), shoot("ui-result.png", "#step-result")); err != nil {
		t.Fatal(err)
	}
	// The phone is asked too: its system and its (masked) Xiaomi account.
	if err := chromedp.Do(ctx, chromedp.Click(css("#checklist-phone-btn"))); err != nil {
		t.Fatal(err)
	}
	if ph, err := waitText(ctx, "#checklist-phone", "Redmi Note 12"); err != nil {
		t.Errorf("the phone's checklist: %v", err)
	} else if strings.Contains(ph, "9876543210") || !strings.Contains(ph, "signed in") {
		t.Errorf("the phone line %q: want the account signed in, masked", ph)
	}
	// Signing out waits for the reduced copy's original.
	if _, err := waitText(ctx, "#checklist-steps", "BLOCKEDSign out of the Xiaomi account\nphotos that were only reduced copies"); err != nil {
		t.Errorf("the sign-out step: %v", err)
	}
	if err := shoot("ui-checklist.png", "#step-checklist"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "contacts", "contacts.vcf")); err != nil {
		t.Errorf("the copy: %v", err)
	}

	// A reload (or a page opened later) shows the finished job as it was.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#checklist-verdict", "only reduced copies"); err != nil {
		t.Errorf("after a reload: %v", err)
	}
	if _, err := waitText(ctx, "#verify-caption", "Verify at dir:"+out); err != nil {
		t.Errorf("after a reload: %v", err)
	}
	if ps := problems(); len(ps) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(ps, "\n"))
	}
}

// TestPageCancelThenResume cancels a running copy from the page, then
// resumes it from the banner the page shows, to "Safe to sign out": the
// sample without its reduced copy (as after downloading the original in
// the Gallery).
func TestPageCancelThenResume(t *testing.T) {
	ctx, problems := browser(t)
	p := newPage(t, nil)
	var runs sync.WaitGroup
	runs.Add(1)
	first := true
	var mu sync.Mutex
	p.srv.jobs.beforeRun = func(ctx context.Context) {
		mu.Lock()
		hold := first
		first = false
		mu.Unlock()
		if hold {
			runs.Done()
			<-ctx.Done()
		}
	}
	abs := filepath.Join(t.TempDir(), "sample")
	if err := os.CopyFS(abs, os.DirFS(sample)); err != nil {
		t.Fatal(err)
	}
	if err := samplegen.WithoutReducedCopy(abs); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "miexit-backup")
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(p.srv.URL()),
		chromedp.Click(css("#src-archive")),
		chromedp.SendKeys(css("#archive-path"), abs),
		chromedp.Click(css("#dest-dir")),
		chromedp.Evaluate[chromedp.Void]("document.querySelector('#dir-path').value = ''"),
		chromedp.SendKeys(css("#dir-path"), out),
		chromedp.Click(css("#start-btn")),
		chromedp.WaitVisible(css("#cancel-btn")),
	)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	runs.Wait()
	if err := chromedp.Do(ctx, chromedp.Click(css("#cancel-btn"))); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#resume-text", "did not finish"); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
	// A page opened later shows the same offer.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#resume-text", "did not finish"); err != nil {
		t.Fatalf("after a reload: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css("#resume-btn"))); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#checklist-verdict", "Safe to sign out"); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	if ps := problems(); len(ps) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(ps, "\n"))
	}
}
