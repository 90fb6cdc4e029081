package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/sample"
)

type result struct {
	code           int
	stdout, stderr string
}

func miexit(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// lastJSON returns the summary object that ends --json output.
func lastJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var last map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		last = m
	}
	if last == nil || last["type"] != "summary" {
		t.Fatalf("no summary object in %q", s)
	}
	return last
}

func setup(t *testing.T) (src, dest string) {
	t.Helper()
	t.Setenv("MIEXIT_STATE_DIR", filepath.Join(t.TempDir(), "state"))
	t.Setenv("MIEXIT_CONFIG_DIR", filepath.Join(t.TempDir(), "config"))
	src = filepath.Join(t.TempDir(), "sample")
	if err := sample.Generate(src); err != nil {
		t.Fatal(err)
	}
	return src, filepath.Join(t.TempDir(), "backup")
}

func TestMigrateTwiceThenVerifyCatchesDeletion(t *testing.T) {
	src, dest := setup(t)
	r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+dest, "--json")
	if r.code != 0 {
		t.Fatalf("first migrate exit %d: %s", r.code, r.stderr)
	}
	sum := lastJSON(t, r.stdout)
	stats := sum["import_stats"].(map[string]any)
	if stats["copied"].(float64) == 0 {
		t.Fatalf("first migrate copied nothing: %v", sum)
	}
	if sum["verify"].(map[string]any)["ok"] != true {
		t.Fatalf("first migrate did not verify: %v", sum["verify"])
	}
	rep, _ := sum["report"].(string)
	html, err := os.ReadFile(rep)
	if err != nil || !strings.Contains(string(html), "王小明") && !strings.Contains(string(html), "verify") {
		t.Errorf("report.html %q unreadable or empty: %v", rep, err)
	}
	if next, _ := sum["next_step"].(string); next == "" {
		t.Error("no next step in the summary")
	}
	if pages, _ := filepath.Glob(filepath.Join(filepath.Dir(rep), "messages", "html", "*.html")); len(pages) < 2 {
		t.Errorf("conversation pages: %v", pages)
	}

	r = miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+dest, "--json")
	if r.code != 0 {
		t.Fatalf("second migrate exit %d: %s", r.code, r.stderr)
	}
	stats = lastJSON(t, r.stdout)["import_stats"].(map[string]any)
	if stats["copied"].(float64) != 0 {
		t.Errorf("second migrate copied %v files; want 0", stats["copied"])
	}

	victim := filepath.Join(dest, "media", "DCIM", "Camera", "IMG_20240501_101500.jpg")
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	r = miexit(t, "verify", "--from", "archive:"+src, "--to", "dir:"+dest)
	if r.code != 1 {
		t.Fatalf("verify after deletion exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "missing media: media/DCIM/Camera/IMG_20240501_101500.jpg") {
		t.Errorf("verify does not name the deleted file:\n%s", r.stdout)
	}

	r = miexit(t, "verify", "--from", "archive:"+src, "--to", "dir:"+dest, "--json")
	v := lastJSON(t, r.stdout)
	if r.code != 1 || v["ok"] != false {
		t.Fatalf("verify --json: exit %d, %v", r.code, v)
	}

	// Re-running migrate fills the gap.
	if r = miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+dest, "-q"); r.code != 0 {
		t.Fatalf("repairing migrate exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("repairing migrate did not restore the file: %v", err)
	}
}

func TestInventoryJSON(t *testing.T) {
	src, _ := setup(t)
	r := miexit(t, "inventory", "--from", "archive:"+src, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("inventory --json printed %d lines, want one object:\n%s", len(lines), r.stdout)
	}
	m := lastJSON(t, r.stdout)
	want := map[string]int{"contacts": sample.Expected.Contacts, "messages": sample.Expected.Messages,
		"calls": sample.Expected.Calls, "notes": sample.Expected.Notes, "media": sample.Expected.Media}
	for k, n := range want {
		if got, ok := m[k].(float64); !ok || int(got) != n {
			t.Errorf("%s = %v, want %d", k, m[k], n)
		}
	}
}

func TestExportImportDryRunWriteNothing(t *testing.T) {
	src, dest := setup(t)
	snap := filepath.Join(t.TempDir(), "snap")
	if r := miexit(t, "export", "--from", "archive:"+src, "--to", snap, "--dry-run"); r.code != 0 {
		t.Fatalf("export --dry-run exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(snap); !os.IsNotExist(err) {
		t.Errorf("export --dry-run created %s", snap)
	}
	if r := miexit(t, "export", "--from", "archive:"+src, "--to", snap, "-q"); r.code != 0 {
		t.Fatalf("export exit %d: %s", r.code, r.stderr)
	}
	r := miexit(t, "import", "--from", snap, "--to", "dir:"+dest, "--dry-run", "--json")
	if r.code != 0 {
		t.Fatalf("import --dry-run exit %d: %s", r.code, r.stderr)
	}
	if n := lastJSON(t, r.stdout)["would_copy"].(float64); n == 0 {
		t.Errorf("import --dry-run reported nothing to copy")
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("import --dry-run created %s", dest)
	}
}

func TestUsageAndInputErrorsExit2(t *testing.T) {
	src, dest := setup(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing --to", []string{"migrate", "--from", "archive:" + src}, "--to is required"},
		{"unknown flag", []string{"inventory", "--frm", "x"}, "unknown flag"},
		{"unknown source scheme", []string{"inventory", "--from", "floppy:a"}, "unknown source"},
		{"unknown destination", []string{"migrate", "--from", "archive:" + src, "--to", "tape:x"}, "unknown destination"},
		{"source that does not exist", []string{"inventory", "--from", "archive:" + filepath.Join(src, "nope")}, "nope"},
		{"import of a folder that is no snapshot", []string{"import", "--from", src, "--to", "dir:" + dest}, "not a miexit snapshot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := miexit(t, c.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q does not say %q", r.stderr, c.want)
			}
		})
	}
}
