package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/miexit/miexit/internal/checklist"
	"github.com/miexit/miexit/internal/verifylog"
)

// notSafeError is the checklist refusing to call signing out safe.
type notSafeError struct{ verdict string }

func (e notSafeError) Error() string { return e.verdict }

func checklistCmd(g *globals) *cobra.Command {
	var from, to string
	c := &cobra.Command{
		Use:   "checklist [--from adb[:SERIAL]]",
		Short: "Say whether it is safe to sign out of Mi Cloud, and the steps to do it; exit 1 until it is",
		Long: `checklist reads what verify last said for each kind of data (contacts,
messages, calls, notes, media, files) and, with --from adb, asks the phone for
its MIUI/HyperOS version and whether a Xiaomi account is still signed in. It then
lists the steps only you can do, in order, each marked done, to do, cannot tell
or blocked:

  1. copy everything out and verify it
  2. turn Cloud Messaging off in the Messages app's settings
  3. turn each Mi Cloud sync switch off BEFORE signing out
  4. sign out of the Xiaomi account
  5. change the Mi account password

It calls signing out safe only when the newest verify of every kind of data
passed; a kind never verified, or no verify at all, is not safe, and the exit
status is 1 until it is. Account names are shown masked.`,
		Example: "  miexit checklist\n  miexit checklist --from adb\n  miexit checklist --from adb:SERIAL --to google --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := checklist.Input{Destination: to}
			if from != "" {
				serial, ok := strings.CutPrefix(from, "adb")
				if !ok || (serial != "" && !strings.HasPrefix(serial, ":")) {
					return usageError{fmt.Errorf("--from %q: checklist reads only a phone; use --from adb or --from adb:SERIAL (see `miexit devices`), or leave it out", from)}
				}
				serial = strings.TrimPrefix(serial, ":")
				in.PhoneAsked = true
				in.Phone, in.PhoneErr = checklist.ReadPhoneBySerial(cmd.Context(), serial)
				if in.PhoneErr != nil && cmd.Context().Err() != nil {
					return in.PhoneErr
				}
			}
			in.History, in.HistoryErr = verifylog.Load(g.stateDir)
			rep := checklist.Build(in)
			if g.json {
				g.summary("checklist", rep)
			} else if !g.quiet {
				printChecklist(g.stdout, rep)
			}
			if !rep.Safe {
				return notSafeError{rep.Verdict}
			}
			if in.PhoneErr != nil {
				return fmt.Errorf("the phone could not be checked: %w", in.PhoneErr)
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "the phone to check: adb or adb:SERIAL (leave out to check only verify's history)")
	c.Flags().StringVar(&to, "to", "", "consider only verifies of this destination (default: every destination)")
	return c
}

func printChecklist(w io.Writer, r checklist.Report) {
	if p := r.Phone; p != nil {
		sys := p.OS
		if sys == "" {
			sys = "not MIUI/HyperOS"
		}
		fmt.Fprintf(w, "Phone %s: %s, %s (build %s), Android %s\n", p.Serial, p.Model, sys, p.Build, p.Android)
		switch {
		case !p.AccountChecked:
			fmt.Fprintf(w, "  Xiaomi account: cannot tell (%s)\n", p.AccountProblem)
		case p.SignedIn():
			fmt.Fprintf(w, "  Xiaomi account: signed in as %s\n", strings.Join(p.XiaomiAccounts, ", "))
		default:
			fmt.Fprintln(w, "  Xiaomi account: none signed in")
		}
	} else if r.PhoneProblem != "" {
		fmt.Fprintf(w, "Phone: not checked: %s\n", r.PhoneProblem)
	}
	if len(r.Verify) == 0 {
		fmt.Fprintln(w, "Verify: no verify on record.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "Last verify per kind:")
		fmt.Fprintln(tw, "  kind\tresult\titems\tmissing\tdifferent\twhen\tsource -> destination")
		for _, k := range r.Verify {
			res := "passed"
			if !k.Passed {
				res = "FAILED"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%s\t%s -> %s\n", k.Kind, res, k.Items, k.Missing, k.Different,
				k.Time.Local().Format("2006-01-02 15:04"), k.Source, k.Destination)
		}
		tw.Flush()
	}
	for _, n := range r.Notices {
		fmt.Fprintln(w, "Note:", n)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.Verdict)
	fmt.Fprintln(w)
	for i, s := range r.Steps {
		fmt.Fprintf(w, "%d. [%s] %s\n", i+1, s.Status, s.Title)
		fmt.Fprintf(w, "     %s\n", s.Why)
		if s.How != "" && s.Status != checklist.Done {
			fmt.Fprintf(w, "     How: %s\n", s.How)
		}
	}
	if len(r.NotChecked) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Not checked:")
		for _, n := range r.NotChecked {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}
