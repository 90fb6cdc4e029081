package main

import (
	"os"
	"strings"
	"testing"
)

// An unchanged re-run reuses the snapshot without exporting, so no export
// event reports the reduced copies; its report must list them all the same,
// since the banner points to them.
func TestReportOfAReusedSnapshotListsTheSamePictures(t *testing.T) {
	src, dest := setup(t)
	const thumb = "9f3b2c1d0e4a5b6c7d8e9f00112233445566778.jpg"
	var pages []string
	for run := range 2 {
		r := miexit(t, "migrate", "--from", "archive:"+src, "--to", "dir:"+dest, "--json")
		if r.code != 0 {
			t.Fatalf("migrate %d exit %d: %s", run+1, r.code, r.stderr)
		}
		sum := lastJSON(t, r.stdout)
		exp, _ := sum["export"].(map[string]any)
		if reused, _ := exp["reused"].(bool); reused != (run == 1) {
			t.Fatalf("migrate %d: reused = %v; the test needs a fresh export, then a reused snapshot", run+1, exp["reused"])
		}
		html, err := os.ReadFile(sum["report"].(string))
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, string(html))
	}
	for i, page := range pages {
		if !strings.Contains(page, "listed under Pictures") {
			t.Fatalf("report %d: the sample's reduced copy should make the banner point to Pictures", i+1)
		}
		if !strings.Contains(page, `<h2>Pictures</h2>`) || !strings.Contains(page, thumb) {
			t.Errorf("report %d says the reduced copies are listed under Pictures, but the page does not list %s", i+1, thumb)
		}
	}
	figs := func(s string) int { return strings.Count(s, "<figure>") }
	if figs(pages[1]) != figs(pages[0]) {
		t.Errorf("the reused snapshot's report shows %d pictures, the first %d", figs(pages[1]), figs(pages[0]))
	}
}
