package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/miexit/miexit/importers/dropbox"
	"github.com/miexit/miexit/importers/google"
	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/pipeline"
)

// RowDriveMigrate and RowDropboxMigrate are migrate of the media to fake
// Drive and fake Dropbox, against the export and the import apart.
const (
	RowDriveMigrate   = "drive-migrate"
	RowDropboxMigrate = "dropbox-migrate"
)

// remoteMigrateRow migrates the phone folder phone (the media alone) to
// the fake of kind ("drive" or "dropbox") in a child process, the way
// `miexit migrate` does: export, uploads during it, the import of the
// committed snapshot and the final check. It is set against the export of
// the same folder alone and importDur, the import of its snapshot alone
// (the drive-apart or dropbox-apart row): with export and import
// overlapped it costs about the slower of the two, not their sum.
func remoteMigrateRow(ctx context.Context, c Config, kind, phone, work string, importDur time.Duration) (Row, error) {
	c.Log.Info("export alone", "phone", phone)
	c.settle(phone)
	t0 := time.Now()
	if _, err := pipeline.Export(ctx, "archive:"+phone, filepath.Join(work, "export-alone"), pipeline.Options{StateDir: filepath.Join(work, "export-state"), Log: c.Log}); err != nil {
		return Row{}, fmt.Errorf("export %s: %w", phone, err)
	}
	exportDur := time.Since(t0)

	c.Log.Info("migrate to "+kind, "phone", phone)
	p, err := startFake(ctx, kind)
	if err != nil {
		return Row{}, err
	}
	env, dst, id, apart := map[string]string{google.EnvEndpoint: p.URL, google.EnvToken: p.Token}, "google", RowDriveMigrate, RowDriveApart
	if kind == "dropbox" {
		env, dst, id, apart = map[string]string{dropbox.EnvEndpoint: p.URL, dropbox.EnvToken: p.Token}, "dropbox:/miexit/bench-migrate", RowDropboxMigrate, RowDropboxApart
	}
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		defer func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		}()
	}
	state := filepath.Join(work, "migrate-state")
	// The export alone's copy is written back first, not during the
	// migrate.
	c.settle(phone)
	t0 = time.Now()
	cpu0 := cpuSelf()
	res, err := pipeline.Migrate(ctx, "archive:"+phone, dst, "", pipeline.Options{StateDir: state, ConfigDir: filepath.Join(state, "config"), Log: c.Log})
	d := time.Since(t0)
	cpu := cpuSelf() - cpu0
	bye, serr := p.finish()
	if err = errors.Join(err, serr); err != nil {
		return Row{}, fmt.Errorf("migrate to %s: %w", kind, err)
	}
	if !res.Verify.OK {
		return Row{}, fmt.Errorf("migrate to %s: verify found gaps: %v", kind, res.Verify.Problems)
	}
	uploads := bye.Counts[googletest.EPUploadMultipart] + bye.Counts[googletest.EPUploadStart]
	if kind == "dropbox" {
		uploads = bye.Counts[dropboxtest.RouteStart]
	}
	if uploads < res.Export.Counts.Media {
		return Row{}, fmt.Errorf("migrate to %s: %d uploads for %d media", kind, uploads, res.Export.Counts.Media)
	}
	sum, slower := exportDur+importDur, max(exportDur, importDur)
	// Both processes' CPU over the cores is as fast as this migrate can
	// be here, however well export and uploads overlap.
	fake := bye.CPUUser + bye.CPUSys
	least := (cpu + fake) / time.Duration(runtime.NumCPU())
	return Row{ID: id, Measure: "`migrate archive: -> " + dst + "` of the media (fake " + kind + " in another process, keeping no bytes; export, uploads, final check)", Value: secs(d),
		Ratio: fmt.Sprintf("%.2fx of export+import, %.2fx of the slower", d.Seconds()/sum.Seconds(), d.Seconds()/slower.Seconds()),
		Note:  fmt.Sprintf("export alone %s (copying; migrate links), import alone %s (%s); %d uploads, %d requests; CPU: miexit's process %s, the fake's %s, so at least %s on %d cores (%.2fx of the slower); goal: about the slower of the two", secs(exportDur), secs(importDur), apart, uploads, requests(bye.Counts), secs(cpu), secs(fake), secs(least), runtime.NumCPU(), least.Seconds()/slower.Seconds()), dur: d}, nil
}
