package backup

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/bench"
	"github.com/miexit/miexit/internal/pipeline"
)

// BenchmarkIncrementalBackup measures one backup of an unchanged phone
// folder after a first full one: what a daily timer costs. The first
// backup's time and what each run copied and linked are reported too.
//
//	go test -run '^$' -bench IncrementalBackup ./internal/backup/
func BenchmarkIncrementalBackup(b *testing.B) {
	size := bench.Size{Photos: 998, PhotoKB: 50, Videos: 2, VideoMB: 20, SMS: 5000, Contacts: 200}
	src := filepath.Join(b.TempDir(), "phone")
	gen, err := bench.Generate(context.Background(), src, size)
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv("MIEXIT_CONFIG_DIR", filepath.Join(b.TempDir(), "config"))
	root, state := filepath.Join(b.TempDir(), "backups"), filepath.Join(b.TempDir(), "state")
	now := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	backup := func() Result {
		now = now.Add(24 * time.Hour)
		t := now
		res, err := Run(context.Background(), "archive:"+src, "dir:"+root, Options{
			Options: pipeline.Options{StateDir: state, Concurrency: 4},
			Keep:    3,
			Now:     func() time.Time { return t },
		})
		if err != nil || !res.Complete {
			b.Fatalf("backup: %v (complete %v)", err, res.Complete)
		}
		return res
	}
	start := time.Now()
	backup()
	first := time.Since(start)
	var last Result
	for b.Loop() {
		last = backup()
	}
	b.ReportMetric(first.Seconds(), "first-backup-s")
	b.ReportMetric(float64(gen.Bytes)/1e6, "source-MB")
	b.ReportMetric(float64(last.Stats.Copied), "copied/op")
	b.ReportMetric(float64(last.Stats.Linked), "linked/op")
}
