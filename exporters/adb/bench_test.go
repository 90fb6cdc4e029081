package adb_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	adbexp "github.com/miexit/miexit/exporters/adb"
	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/adbtest"
	"github.com/miexit/miexit/internal/snapshot"
)

// BenchmarkPull copies a generated tree from the fake phone through the
// real adb server, with miexit's exporter and with `adb pull`, so the
// figures can be compared (b.SetBytes gives MB/s).
func BenchmarkPull(b *testing.B) {
	trees := []struct {
		name  string
		n     int
		size  int64
		total int64
	}{
		{"2000x32KiB", 2000, 32 << 10, 2000 * 32 << 10},
		{"3x100MiB", 3, 100 << 20, 3 * 100 << 20},
	}
	for _, tr := range trees {
		real := adbtest.StartRealServer(b)
		d := adbtest.NewDevice("")
		d.Prov.SetEmpty()
		for i := range tr.n {
			d.Files.AddGenerated(fmt.Sprintf("/storage/emulated/0/DCIM/Camera/IMG_%05d.jpg", i), tr.size, uint64(i+1), mediaMod)
		}
		serial := real.Connect(b, d.Listen(b))
		for _, par := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/miexit-parallel%d", tr.name, par), func(b *testing.B) {
				b.SetBytes(tr.total)
				ctx := context.Background()
				for b.Loop() {
					ex, err := adbexp.Open(ctx, &adb.Client{Addr: real.Addr}, serial, adbexp.Options{MediaDirs: []string{"DCIM"}, Parallel: par})
					if err != nil {
						b.Fatal(err)
					}
					dir := b.TempDir()
					w, err := snapshot.Create(dir, snapshot.Options{})
					if err != nil {
						b.Fatal(err)
					}
					if err := ex.Export(ctx, w); err != nil {
						b.Fatal(err)
					}
					if err := w.Commit(ctx); err != nil {
						b.Fatal(err)
					}
					if w.Counts().Media != tr.n {
						b.Fatalf("copied %d files, want %d", w.Counts().Media, tr.n)
					}
					os.RemoveAll(dir)
				}
			})
		}
		b.Run(tr.name+"/adb-pull", func(b *testing.B) {
			b.SetBytes(tr.total)
			for b.Loop() {
				dir := b.TempDir()
				if out, err := real.Run(b, "-s", serial, "pull", "/storage/emulated/0/DCIM", filepath.Join(dir, "x")); err != nil {
					b.Fatalf("adb pull: %v: %s", err, out)
				}
				os.RemoveAll(dir)
			}
		})
	}
}

// BenchmarkSMS100k exports 100,000 SMS from the phone's `content query`
// text (the fake phone prints what Android's content command prints) to
// the snapshot's JSONL and SMS Backup & Restore XML: issue 9's "100,000
// SMS in < 3 s" figure.
func BenchmarkSMS100k(b *testing.B) {
	const n = 100_000
	d := adbtest.NewDevice("sms100k")
	d.Prov.SetEmpty()
	rows := make([][]any, 0, n)
	for id := int64(1); id <= n; id++ {
		rows = append(rows, []any{id, id%300 + 1, int64(1714550400000 + id*1000), int64(0), 1 + id%2, int64(1), int64(-1), int64(0), int64(1),
			fmt.Sprintf("+86138%08d", id%300), nil, nil, fmt.Sprintf("message %d: see you at 8, bring the 🎉 and the keys", id)})
	}
	d.Prov.Set("content://sms", &adbtest.Table{
		Columns:   []string{"_id", "thread_id", "date", "date_sent", "type", "read", "status", "locked", "sub_id", "address", "subject", "service_center", "body"},
		Rows:      rows,
		Functions: true,
	})
	srv := adbtest.NewServer(b, d)
	ctx := context.Background()
	for b.Loop() {
		ex, err := adbexp.Open(ctx, &adb.Client{Addr: srv.Addr}, "", adbexp.Options{MediaDirs: []string{"none"}})
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		w, err := snapshot.Create(dir, snapshot.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := ex.Export(ctx, w); err != nil {
			b.Fatal(err)
		}
		if err := w.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		if got := w.Counts().Messages; got != n {
			b.Fatalf("exported %d messages, want %d", got, n)
		}
		os.RemoveAll(dir)
	}
}
