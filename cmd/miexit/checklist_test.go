package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/sample"
	"github.com/miexit/miexit/internal/verifylog"
)

func steps(t *testing.T, sum map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	list, _ := sum["steps"].([]any)
	for _, s := range list {
		m := s.(map[string]any)
		out[m["id"].(string)] = m["status"].(string)
	}
	if len(out) != 5 {
		t.Fatalf("steps = %v", sum["steps"])
	}
	return out
}

// The "done when": against the fake phone, checklist reports the
// account (masked) and refuses "safe" until verify passes, and again after
// verify fails.
func TestChecklistRefusesSafeUntilVerifyPasses(t *testing.T) {
	src, dest := setup(t)
	d := adbtest.NewDevice("fake-phone-9")
	d.Props["ro.mi.os.version.name"] = "OS1.0"
	d.Accounts = []adbtest.Account{{Name: "9876543210", Type: "com.xiaomi"}, {Name: "someone@gmail.com", Type: "com.google"}}
	srv := adbtest.NewServer(t, d)
	t.Setenv("ADB_SERVER_SOCKET", "tcp:"+srv.Addr)

	r := miexit(t, "checklist", "--from", "adb:fake-phone-9")
	if r.code != 1 {
		t.Fatalf("checklist with no verify history: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Not safe to sign out", "HyperOS OS1.0", "signed in as 98******10", "[blocked] Sign out"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("checklist does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "9876543210") || strings.Contains(r.stdout, "someone") {
		t.Errorf("checklist printed an account name in full:\n%s", r.stdout)
	}

	if r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+dest, "-q"); r.code != 0 {
		t.Fatalf("migrate exit %d: %s", r.code, r.stderr)
	}
	// The sample's reduced copy: verify passed, yet its original is not
	// copied anywhere, so the checklist says what the report says.
	r = miexit(t, "checklist", "--from", "adb:fake-phone-9")
	if r.code != 1 || !strings.Contains(r.stdout, "only reduced copies") || !strings.Contains(r.stdout, "[blocked] Sign out") {
		t.Fatalf("checklist after a migrate with a reduced copy: exit %d, want 1 naming it\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The person downloads the original in the Gallery and migrates again.
	if err := sample.WithoutReducedCopy(src); err != nil {
		t.Fatal(err)
	}
	if r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+dest, "-q"); r.code != 0 {
		t.Fatalf("migrate exit %d: %s", r.code, r.stderr)
	}
	r = miexit(t, "checklist", "--from", "adb:fake-phone-9", "--json")
	if r.code != 0 {
		t.Fatalf("checklist after a passing migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sum := lastJSON(t, r.stdout)
	if sum["safe"] != true {
		t.Fatalf("not safe after a passing verify: %v", sum["verdict"])
	}
	phone := sum["phone"].(map[string]any)
	if accs := phone["xiaomi_accounts"].([]any); len(accs) != 1 || accs[0] != "98******10" {
		t.Errorf("xiaomi accounts = %v", accs)
	}
	if kinds := sum["verify"].([]any); len(kinds) < 5 {
		t.Errorf("verify per kind = %v, want every kind of the sample", kinds)
	}
	if n, _ := sum["notices"].([]any); len(n) != 1 || !strings.Contains(n[0].(string), "no verify of this phone") {
		t.Errorf("notices = %v, want one saying the phone itself was never verified", n)
	}
	st := steps(t, sum)
	if st["verify"] != "done" || st["sign-out"] != "to do" || st["password"] != "blocked" || st["sync-off"] != "cannot tell" {
		t.Errorf("steps = %v", st)
	}

	// Signed out on the phone: the account steps are done.
	d.SetAccounts()
	r = miexit(t, "checklist", "--from", "adb:fake-phone-9", "--json")
	if st := steps(t, lastJSON(t, r.stdout)); r.code != 0 || st["sign-out"] != "done" || st["password"] != "cannot tell" {
		t.Errorf("after signing out: exit %d, steps %v", r.code, st)
	}

	if err := os.Remove(filepath.Join(dest, "media", "DCIM", "Camera", "IMG_20240501_101500.jpg")); err != nil {
		t.Fatal(err)
	}
	if r := miexit(t, "verify", "--from", "archive:"+src, "--to", "dir:"+dest, "-q"); r.code != 1 {
		t.Fatalf("verify after a deletion: exit %d", r.code)
	}
	d.SetAccounts(adbtest.Account{Name: "9876543210", Type: "com.xiaomi"})
	r = miexit(t, "checklist", "--from", "adb:fake-phone-9")
	if r.code != 1 || !strings.Contains(r.stdout, "gaps in media") || !regexp.MustCompile(`media +FAILED`).MatchString(r.stdout) {
		t.Fatalf("checklist after a failing verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestChecklistWithoutPhoneSaysWhatWasNotChecked(t *testing.T) {
	src, dest := setup(t)
	if err := sample.WithoutReducedCopy(src); err != nil {
		t.Fatal(err)
	}
	if r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+dest, "-q"); r.code != 0 {
		t.Fatalf("migrate exit %d: %s", r.code, r.stderr)
	}
	r := miexit(t, "checklist", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	sum := lastJSON(t, r.stdout)
	if sum["safe"] != true || sum["phone"] != nil {
		t.Errorf("summary = %v", sum)
	}
	nc, _ := sum["not_checked"].([]any)
	if len(nc) == 0 || !strings.Contains(nc[0].(string), "--from adb") {
		t.Errorf("not_checked = %v", nc)
	}
	if st := steps(t, sum); st["sign-out"] != "cannot tell" {
		t.Errorf("steps = %v", st)
	}
	// Another destination was never verified.
	if r := miexit(t, "checklist", "--to", "google"); r.code != 1 || !strings.Contains(r.stdout, "nothing was ever verified at google") {
		t.Errorf("checklist --to google: exit %d\n%s", r.code, r.stdout)
	}
	// The history the checklist read is the 0600 file in the state dir.
	fi, err := os.Stat(verifylog.Path(os.Getenv("MIEXIT_STATE_DIR")))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("history file: %v, %v", fi, err)
	}
}

func TestChecklistUsageAndPhoneErrors(t *testing.T) {
	setup(t)
	if r := miexit(t, "checklist", "--from", "micloud"); r.code != 2 || !strings.Contains(r.stderr, "--from adb") {
		t.Errorf("checklist --from micloud: exit %d, %q", r.code, r.stderr)
	}
	srv := adbtest.NewServer(t)
	t.Setenv("ADB_SERVER_SOCKET", "tcp:"+srv.Addr)
	r := miexit(t, "checklist", "--from", "adb")
	if r.code != 1 || !strings.Contains(r.stdout, "Phone: not checked: no phone found") {
		t.Errorf("checklist without a phone: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
