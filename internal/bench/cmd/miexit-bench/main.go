// Command miexit-bench generates a synthetic phone folder and measures
// miexit's migrate against cp -r and rclone copy, printing a Markdown
// table (see BENCHMARKS.md):
//
//	go run ./internal/bench/cmd/miexit-bench            # about 200 MB, a few minutes
//	go run ./internal/bench/cmd/miexit-bench -full      # issue 9's size, about 1 GB
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"

	"github.com/miexit/miexit/internal/bench"
)

func main() {
	bench.MaybeChild()
	s := bench.Default
	full := flag.Bool("full", false, "issue 9's size: 5,000 media of ~1 GB, 100,000 SMS, 5,000 contacts (overrides the size flags)")
	flag.IntVar(&s.Photos, "photos", s.Photos, "number of photos")
	flag.IntVar(&s.PhotoKB, "photo-kb", s.PhotoKB, "mean photo size in KiB")
	flag.IntVar(&s.Videos, "videos", s.Videos, "number of videos")
	flag.IntVar(&s.VideoMB, "video-mb", s.VideoMB, "size of one video in MiB")
	flag.IntVar(&s.SMS, "sms", s.SMS, "number of SMS")
	flag.IntVar(&s.Contacts, "contacts", s.Contacts, "number of contacts")
	work := flag.String("work", "", "scratch folder (default a new temporary folder, removed afterwards)")
	keep := flag.Bool("keep", false, "keep the scratch folder")
	rss := flag.Bool("rss", true, "measure peak RSS of a migrate at 1x and 10x small files")
	rssFiles := flag.Int("rss-files", 0, "small files in the 1x RSS run (default the media count)")
	adb := flag.Bool("adb", true, "measure the ADB export against adb pull (through a private real adb server and the fake phone)")
	cloud := flag.Bool("cloud", true, "measure contacts, Drive and Dropbox on their loopback fakes against a raw HTTP upload")
	rclone := flag.String("rclone", "", "rclone binary (default from PATH; - to skip)")
	concurrency := flag.Int("concurrency", 0, "miexit's --concurrency (0: its default)")
	verbose := flag.Bool("v", false, "log each step")
	dropCaches := flag.Bool("drop-caches", true, "as root: drop the page cache before each step and read its input back, so every step starts alike")
	phases := flag.Int("phases", 0, "instead of the table: run export, import, verify and migrate of this many small files (and 10x) each in a child process and print each one's peak RSS")
	heapDir := flag.String("heapprofiles", "", "with -phases: write each child's heap profile at its peak live heap into this folder")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the in-process steps (not the cp, rclone or RSS children) to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "miexit-bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if *full {
		s = bench.Full
	}
	if *phases > 0 {
		if err := runPhases(*phases, *work, *keep, *concurrency, *heapDir); err != nil {
			fmt.Fprintln(os.Stderr, "miexit-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(s, *work, *keep, *rss, *rssFiles, *rclone, *concurrency, *verbose, !*adb, !*cloud, *dropCaches); err != nil {
		fmt.Fprintln(os.Stderr, "miexit-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(s bench.Size, work string, keep, rss bool, rssFiles int, rclone string, concurrency int, verbose, noADB, noCloud, dropCaches bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if work == "" {
		dir, err := os.MkdirTemp("", "miexit-bench-")
		if err != nil {
			return err
		}
		work = dir
		if !keep {
			defer os.RemoveAll(dir)
		}
	}
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	rep, err := bench.Run(ctx, bench.Config{Size: s, Work: work, RSS: rss, RSSFiles: rssFiles, Rclone: rclone, Concurrency: concurrency, Log: log, NoADB: noADB, NoCloud: noCloud, DropCaches: dropCaches})
	if err != nil {
		return err
	}
	return rep.Markdown(os.Stdout)
}

func runPhases(n int, work string, keep bool, concurrency int, heapDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if work == "" {
		dir, err := os.MkdirTemp("", "miexit-bench-")
		if err != nil {
			return err
		}
		work = dir
		if !keep {
			defer os.RemoveAll(dir)
		}
	}
	if heapDir != "" {
		if err := os.MkdirAll(heapDir, 0o755); err != nil {
			return err
		}
	}
	var all []bench.PhaseRSS
	for _, k := range []int{n, 10 * n} {
		rs, err := bench.Phases(ctx, work, k, 4, concurrency, heapDir)
		if err != nil {
			return err
		}
		all = append(all, rs...)
	}
	bench.PhasesMarkdown(os.Stdout, all)
	return nil
}
