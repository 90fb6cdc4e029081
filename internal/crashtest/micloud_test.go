package crashtest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miexit/miexit/internal/micloudtest"
)

// `miexit export --from micloud:` against the fake Mi Cloud answering a
// seeded 5% of requests with a 503, 8% with a reset connection and 8%
// with an answer cut short: the snapshot holds the same files, byte for
// byte, as an export from a fake that never fails.
func TestMiCloudExportUnderFaults(t *testing.T) {
	t.Parallel()
	export := func(t *testing.T, opt micloudtest.Options) ([]string, *micloudtest.Server) {
		srv := micloudtest.New(micloudtest.Sample(false), opt)
		t.Cleanup(srv.Close)
		e := newEnv(t, "MIEXIT_MICLOUD_ENDPOINT="+srv.API.URL, "MIEXIT_MICLOUD_USERID="+srv.UserID(), "MIEXIT_MICLOUD_PASSTOKEN="+srv.PassToken())
		snap := filepath.Join(t.TempDir(), "snap")
		if r := e.run(t, "", "export", "--from", "micloud:", "--to", snap, "-q"); r.code != 0 {
			t.Fatalf("export (faults %+v): exit %d\n%s", opt, r.code, r.stderr)
		}
		var files []string
		for _, f := range listDir(t, snap, true) {
			// The manifest carries export times.
			if !strings.HasPrefix(f, "manifest.json") {
				files = append(files, f)
			}
		}
		return files, srv
	}
	want, _ := export(t, micloudtest.Options{})
	for seed := range uint64(1) {
		got, srv := export(t, micloudtest.Options{FailRate: 0.05, ResetRate: 0.08, TruncateRate: 0.08, Seed: seed})
		if !slices.Equal(got, want) {
			t.Errorf("seed %d: the snapshot differs from one exported without faults:\n%s", seed, diff(want, got))
		}
		if srv.Count("reset") == 0 || srv.Count("truncated") == 0 {
			t.Errorf("seed %d: faults not injected: %s", seed, srv.SortedCounts())
		}
		t.Logf("seed %d: %d files; %d requests, %d 503, %d resets, %d cut short", seed, len(got), srv.Requests(), srv.Count("503"), srv.Count("reset"), srv.Count("truncated"))
	}
}
