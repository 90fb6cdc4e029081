package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/migrate"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/report"
	"github.com/miexit/miexit/internal/ui"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// Exit codes: 0 done, 1 failed or verify found gaps, 2 usage or input error.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usageError marks a command-line mistake.
type usageError struct{ error }

// gapError is verify finding items missing or different.
type gapError struct{ res verify.Result }

func (g gapError) Error() string {
	missing, different := 0, 0
	for _, r := range g.res.Rows {
		missing += r.Missing
		different += r.Different
	}
	if missing == 0 && different == 0 && len(g.res.Unchecked) > 0 {
		// Nothing to re-import here: the rest needs another destination.
		kinds := make([]string, len(g.res.Unchecked))
		for i, k := range g.res.Unchecked {
			kinds[i] = string(k)
		}
		return fmt.Sprintf("verify: everything %s takes is there, but it does not take %s: copy those to another destination (dir:, webdav:, ...) and verify there", g.res.Destination, strings.Join(kinds, ", "))
	}
	return fmt.Sprintf("verify: %d missing and %d different at %s; run `miexit import` (or migrate) again to copy them, then verify", missing, different, g.res.Destination)
}

// globals are the flags every command shares.
type globals struct {
	json     bool
	quiet    bool
	verbose  bool
	stateDir string
	stdout   io.Writer
	stderr   io.Writer
	prog     ui.Progress
}

// logger logs to stderr at the level --quiet and --verbose set.
func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	switch {
	case g.quiet:
		level = slog.LevelError
	case g.verbose:
		level = slog.LevelInfo
	}
	var h slog.Handler = slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level})
	if g.json {
		h = slog.NewJSONHandler(g.stderr, &slog.HandlerOptions{Level: level})
	}
	return slog.New(h)
}

func (g *globals) options(dryRun bool) pipeline.Options {
	o := pipeline.Options{StateDir: g.stateDir, DryRun: dryRun, Log: g.logger()}
	switch {
	case g.json:
		p := ui.NewJSON(g.stdout)
		g.prog, o.Progress = p, p
	case g.quiet:
		o.Progress = progress.Discard
	default:
		p := ui.New(g.stderr, ui.Options{})
		g.prog, o.Progress = p, p
		o.Totals = p.SetTotal
	}
	return o
}

// finish ends the live progress output, so what follows is not drawn over.
func (g *globals) finish() {
	if g.prog != nil {
		g.prog.Close()
		g.prog = nil
	}
}

// summary prints the final object in --json mode.
func (g *globals) summary(command string, v any) {
	b, _ := json.Marshal(v)
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		m = map[string]any{"result": v}
	}
	m["type"] = "summary"
	m["command"] = command
	json.NewEncoder(g.stdout).Encode(m)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	g.finish()
	if err == nil {
		return exitOK
	}
	var gap gapError
	var use usageError
	switch {
	case errors.As(err, &gap):
		fmt.Fprintln(stderr, "miexit:", err)
		return exitFail
	case errors.As(err, &use):
		fmt.Fprintln(stderr, "miexit:", err)
		fmt.Fprintln(stderr, helpHint(root, args))
		return exitUsage
	case errors.Is(err, mapping.ErrBadInput):
		fmt.Fprintln(stderr, "miexit:", err)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "miexit: interrupted; nothing saved was lost. Run the same command again to finish the job.")
		return exitFail
	case isCobraUsage(err):
		fmt.Fprintln(stderr, "miexit:", err)
		fmt.Fprintln(stderr, helpHint(root, args))
		return exitUsage
	}
	fmt.Fprintln(stderr, "miexit:", err)
	return exitFail
}

// isCobraUsage recognizes cobra's own argument and flag errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "required flag", "accepts ", "requires "} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "miexit",
		Short: "Move your data out of Xiaomi Mi Cloud and off your phone, and prove nothing was lost",
		Long: `miexit copies contacts, messages, call log, notes, photos and videos from a
MIUI/HyperOS phone, MIUI backups or Mi Cloud to a place you trust (a local folder,
Google, Dropbox, OneDrive), and verifies the copy item by item, so you know when it
is safe to switch Mi Cloud sync off and sign out.

Sources:      ` + strings.Join(schemes(exporters.Schemes()), ", ") + `
Destinations: ` + strings.Join(schemes(importers.Schemes()), ", "),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.BoolVar(&g.json, "json", false, "machine-readable output: JSON lines of events, then a summary object")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print errors only")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log what happens")
	pf.StringVar(&g.stateDir, "state-dir", "", "where the ledger and default snapshots live (default $MIEXIT_STATE_DIR or ~/.local/state/miexit)")
	root.MarkFlagsMutuallyExclusive("quiet", "verbose")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(inventoryCmd(g), exportCmd(g), importCmd(g), migrateCmd(g), verifyCmd(g), authCmd(g), devicesCmd(g), versionCmd(g))
	root.AddCommand(backupCmd(g))
	root.AddCommand(checklistCmd(g))
	root.AddCommand(uiCmd(g))
	finishTree(g, root)
	return root
}

func schemes(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = v + ":"
	}
	return out
}

func need(flag, value string) error {
	if strings.TrimSpace(value) == "" {
		return usageError{fmt.Errorf("--%s is required", flag)}
	}
	return nil
}

func inventoryCmd(g *globals) *cobra.Command {
	var from, password string
	c := &cobra.Command{
		Use:     "inventory --from SRC",
		Short:   "Count what a source holds, copying nothing",
		Example: "  miexit inventory --from archive:testdata/sample\n  miexit inventory --from adb --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := need("from", from); err != nil {
				return err
			}
			o := g.options(false)
			o.Password = password
			inv, err := pipeline.Inventory(cmd.Context(), from, o)
			g.finish()
			if err != nil {
				return err
			}
			if g.json {
				m := map[string]any{}
				for k, v := range inv.Extra {
					m[k] = v
				}
				b, _ := json.Marshal(inv.Counts)
				json.Unmarshal(b, &m)
				if len(inv.Notices) > 0 {
					m["notices"] = inv.Notices
				}
				g.summary("inventory", m)
				return nil
			}
			if !g.quiet {
				printCounts(g.stdout, from, inv.Counts)
				for _, k := range sortedKeys(inv.Extra) {
					fmt.Fprintf(g.stdout, "  %s: %d\n", strings.ReplaceAll(k, "_", " "), inv.Extra[k])
				}
				for _, n := range inv.Notices {
					fmt.Fprintln(g.stdout, "Note:", n)
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "source: archive:PATH, adb[:SERIAL], micloud")
	c.Flags().StringVar(&password, "password", "", "password of an encrypted MIUI backup")
	return c
}

func printCounts(w io.Writer, title string, c mapping.Counts) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n", title)
	fmt.Fprintf(tw, "  contacts\t%d\n  messages\t%d\n  calls\t%d\n  notes\t%d\n  media\t%d\n", c.Contacts, c.Messages, c.Calls, c.Notes, c.Media)
	if c.Thumbnails > 0 {
		fmt.Fprintf(tw, "  thumbnails\t%d\t(reduced copies only: get the originals from Mi Cloud or the phone)\n", c.Thumbnails)
	}
	if c.NotUnderstood > 0 {
		fmt.Fprintf(tw, "  not understood\t%d\t(files miexit cannot read; listed with -v)\n", c.NotUnderstood)
	}
	tw.Flush()
}

func exportCmd(g *globals) *cobra.Command {
	var from, to, password string
	var dry bool
	var jobs int
	c := &cobra.Command{
		Use:     "export --from SRC --to DIR",
		Short:   "Write a source into a snapshot folder (the local backup every import reads)",
		Example: "  miexit export --from archive:testdata/sample --to ./snapshot",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(need("from", from), need("to", to)); err != nil {
				return usageError{err}
			}
			o := g.options(dry)
			o.Password = password
			o.Concurrency = jobs
			res, err := pipeline.Export(cmd.Context(), from, to, o)
			g.finish()
			if err != nil {
				return err
			}
			if g.json {
				g.summary("export", res)
			} else if !g.quiet {
				verb := "wrote"
				if dry {
					verb = "would write"
				}
				printCounts(g.stdout, fmt.Sprintf("%s %s (%d media unchanged since the last export)", verb, to, res.Unchanged), res.Counts)
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "source: archive:PATH, adb[:SERIAL], micloud")
	c.Flags().StringVar(&to, "to", "", "snapshot folder to write")
	c.Flags().StringVar(&password, "password", "", "password of an encrypted MIUI backup")
	c.Flags().BoolVar(&dry, "dry-run", false, "say what would be written, write nothing")
	c.Flags().IntVarP(&jobs, "jobs", "j", 4, "downloads at once from Mi Cloud (at most 8)")
	return c
}

func importCmd(g *globals) *cobra.Command {
	var from, to string
	var dry bool
	var jobs int
	c := &cobra.Command{
		Use:     "import --from DIR --to DEST",
		Short:   "Upload a snapshot to a destination; re-running copies only what is missing",
		Example: "  miexit import --from ./snapshot --to dir:./miexit-backup",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(need("from", from), need("to", to)); err != nil {
				return usageError{err}
			}
			tally := &progress.Tally{}
			o := g.options(dry)
			o.Concurrency = jobs
			o.Progress = progress.Multi(o.Progress, tally)
			res, err := pipeline.Import(cmd.Context(), from, to, o)
			g.finish()
			if err != nil {
				return err
			}
			s := importSummary(res.Destination, tally)
			if g.json {
				g.summary("import", s)
			} else if !g.quiet {
				printImport(g.stdout, s)
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "snapshot folder")
	c.Flags().StringVar(&to, "to", "", "destination: dir:PATH, google, dropbox[:/folder], onedrive[:/folder]")
	c.Flags().BoolVar(&dry, "dry-run", false, "say what would be uploaded, upload nothing")
	c.Flags().IntVarP(&jobs, "jobs", "j", 4, "uploads at once")
	return c
}

type importStats struct {
	Destination string `json:"destination"`
	Copied      int    `json:"copied"`
	Unchanged   int    `json:"unchanged"`
	WouldCopy   int    `json:"would_copy"`
	Failed      int    `json:"failed"`
	Bytes       int64  `json:"bytes"`
}

func importSummary(dest string, t *progress.Tally) importStats {
	return importStats{
		Destination: dest,
		Copied:      t.Count("import", "", progress.Copied),
		Unchanged:   t.Count("import", "", progress.Unchanged),
		WouldCopy:   t.Count("import", "", progress.WouldCopy),
		Failed:      t.Count("import", "", progress.Failed),
		Bytes:       t.Bytes("import"),
	}
}

func printImport(w io.Writer, s importStats) {
	if s.WouldCopy > 0 {
		fmt.Fprintf(w, "%s: would copy %d files, %d already there\n", s.Destination, s.WouldCopy, s.Unchanged)
		return
	}
	fmt.Fprintf(w, "%s: copied %d files (%d bytes), %d already there\n", s.Destination, s.Copied, s.Bytes, s.Unchanged)
}

func verifyCmd(g *globals) *cobra.Command {
	var from, to, password string
	c := &cobra.Command{
		Use:   "verify --from DIR|SRC --to DEST",
		Short: "Check, item by item, that a destination holds everything; exit 1 on any gap",
		Example: "  miexit verify --from archive:testdata/sample --to dir:./miexit-backup\n" +
			"  miexit verify --from ./snapshot --to google --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(need("from", from), need("to", to)); err != nil {
				return usageError{err}
			}
			o := g.options(false)
			o.Password = password
			res, err := pipeline.Verify(cmd.Context(), from, to, o)
			g.finish()
			if err != nil {
				return err
			}
			g.recordVerify(from, res)
			return g.reportVerify(res)
		},
	}
	c.Flags().StringVar(&from, "from", "", "snapshot folder, or a source to export first")
	c.Flags().StringVar(&to, "to", "", "destination to check")
	c.Flags().StringVar(&password, "password", "", "password of an encrypted MIUI backup (when --from is a source)")
	return c
}

func (g *globals) reportVerify(res verify.Result) error {
	if g.json {
		g.summary("verify", res)
	} else if !g.quiet {
		printVerify(g.stdout, res)
	}
	if !res.OK {
		return gapError{res}
	}
	return nil
}

func printVerify(w io.Writer, res verify.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "verify %s\n", res.Destination)
	fmt.Fprintln(tw, "  kind\tsource\tdestination\tmissing\tdifferent\textra")
	for _, r := range res.Rows {
		if r.NotChecked {
			fmt.Fprintf(tw, "  %s\t%d\tnot checked: this destination does not take them\t\t\t\n", r.Kind, r.Source)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\n", r.Kind, r.Source, r.Destination, r.Missing, r.Different, r.Extra)
	}
	tw.Flush()
	if res.Repaired > 0 {
		fmt.Fprintf(w, "  the first check found %d item(s) missing or different (changed at the destination behind miexit's back); they were imported again\n", res.Repaired)
	}
	const show = 50
	for i, p := range res.Problems {
		if i == show {
			fmt.Fprintf(w, "  ... and %d more (use --json for the full list)\n", len(res.Problems)-show)
			break
		}
		item := p.Path
		if !isWholeFile(p.Kind) {
			item = p.Key + " in " + p.Path
		}
		detail := ""
		if p.Detail != "" {
			detail = " (" + p.Detail + ")"
		}
		fmt.Fprintf(w, "  %s %s: %s%s\n", p.Problem, p.Kind, item, detail)
	}
	if len(res.Unchecked) > 0 {
		fmt.Fprintf(w, "Not checked, because %s does not take them: %s. Copy them to a destination that does (dir:, webdav:, ...) and verify there before signing out.\n", res.Destination, kindList(res.Unchecked))
	}
	if res.OK {
		fmt.Fprintln(w, "Everything in the source is at the destination.")
	}
}

// printSummary prints what happened to each kind at the destination, with
// the reasons items were skipped: the table report.html shows.
func printSummary(w io.Writer, dest string, rows []report.Row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n", dest)
	fmt.Fprintln(tw, "  kind\tfound\tcopied\talready there\tskipped\tfailed")
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\n", r.Kind, r.Found, r.Copied, r.Unchanged, r.Skipped, r.Failed)
	}
	tw.Flush()
	for _, r := range rows {
		for _, why := range r.Reasons {
			fmt.Fprintf(w, "  skipped %d %s: %s\n", why.Count, r.Kind, why.Reason)
		}
	}
}

func isWholeFile(k mapping.Kind) bool {
	return k == mapping.KindMedia || k == mapping.KindNote || k == mapping.KindFile
}

func migrateCmd(g *globals) *cobra.Command {
	var from, to, snap, password string
	var dry bool
	var jobs int
	c := &cobra.Command{
		Use:   "migrate --from SRC --to DEST",
		Short: "Export, import and verify in one go",
		Example: "  miexit migrate --from archive:testdata/sample --to dir:./miexit-backup\n" +
			"  miexit migrate --from adb --to google",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(need("from", from), need("to", to)); err != nil {
				return usageError{err}
			}
			tally := &progress.Tally{}
			o := g.options(dry)
			o.Password = password
			o.Concurrency = jobs
			o.Progress = progress.Multi(o.Progress, tally)
			out, err := migrate.Run(cmd.Context(), from, to, snap, o)
			g.finish()
			if err != nil {
				return err
			}
			for _, w := range out.Warnings {
				fmt.Fprintln(g.stderr, "miexit:", w)
			}
			res := out.MigrateResult
			imp := importSummary(res.Import.Destination, tally)
			reportPath, next := out.Report, out.NextStep
			if g.json {
				g.summary("migrate", struct {
					pipeline.MigrateResult
					ImportStats importStats `json:"import_stats"`
					Report      string      `json:"report,omitempty"`
					NextStep    string      `json:"next_step,omitempty"`
				}{res, imp, reportPath, next})
			} else if !g.quiet {
				title := fmt.Sprintf("exported %s to snapshot %s", from, res.Export.Dir)
				if res.Export.Reused {
					title = fmt.Sprintf("%s has not changed since the last run; its snapshot %s is used as it is", from, res.Export.Dir)
				}
				printCounts(g.stdout, title, res.Export.Counts)
				if imp.Destination != "" {
					printImport(g.stdout, imp)
					if !dry {
						printSummary(g.stdout, imp.Destination, out.Summary)
					}
				}
			}
			if dry {
				return nil
			}
			if !g.json && !g.quiet {
				printVerify(g.stdout, res.Verify)
				if reportPath != "" {
					fmt.Fprintf(g.stdout, "Report: %s\n", reportPath)
				}
				fmt.Fprintln(g.stdout, next)
			}
			if !res.Verify.OK {
				return gapError{res.Verify}
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "source: archive:PATH, adb[:SERIAL], micloud")
	c.Flags().StringVar(&to, "to", "", "destination: dir:PATH, google, dropbox[:/folder], onedrive[:/folder]")
	c.Flags().StringVar(&snap, "snapshot", "", "snapshot folder (default: one per source in the state dir)")
	c.Flags().StringVar(&password, "password", "", "password of an encrypted MIUI backup")
	c.Flags().BoolVar(&dry, "dry-run", false, "say what would happen, change nothing")
	c.Flags().IntVarP(&jobs, "jobs", "j", 4, "uploads at once, and downloads from Mi Cloud (at most 8 there)")
	return c
}

// version is set by the linker in releases.
var version = "dev"

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print miexit's version",
		Example: "  miexit version",
		Args:    cobra.NoArgs,
		Run:     func(*cobra.Command, []string) { fmt.Fprintln(g.stdout, "miexit", version) },
	}
}

func sortedKeys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
func kindList(ks []mapping.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
