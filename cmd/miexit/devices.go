package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/miexit/miexit/exporters/adb"
)

func devicesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "devices",
		Short:   "List phones connected over ADB, with model and MIUI/HyperOS version",
		Example: "  miexit devices\n  miexit inventory --from adb:SERIAL",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			devs, err := adb.Devices(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				g.summary("devices", map[string]any{"devices": devs})
				return nil
			}
			if len(devs) == 0 {
				fmt.Fprintln(g.stdout, "No phone found. Turn on USB debugging (Settings > Additional settings > Developer options), plug the phone in and accept the prompt.")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "serial\tstate\tmodel\tsystem\tandroid\t")
			for _, d := range devs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Serial, d.State, d.Model, d.OS, d.Android, d.Problem)
			}
			return tw.Flush()
		},
	}
}
