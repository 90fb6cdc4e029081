package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/importers"
)

// finishTree adds cobra's help and completion commands now rather than at
// Execute, so they carry examples like every other command and write to the
// run's own output; it teaches the shells the --from/--to schemes and reads
// the config file before each command.
func finishTree(g *globals, root *cobra.Command) {
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	if root.Example == "" {
		root.Example = "  miexit devices\n" +
			"  miexit migrate --from adb --to google\n" +
			"  miexit migrate --from archive:testdata/sample --to dir:./miexit-backup\n" +
			"  miexit checklist --from adb"
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  miexit help migrate\n  miexit migrate --help"
		case "completion":
			c.Example = "  source <(miexit completion bash)\n  miexit completion zsh > \"${fpath[1]}/_miexit\"\n  miexit completion fish > ~/.config/fish/completions/miexit.fish"
			for _, sh := range c.Commands() {
				sh.Example = completionExample(sh.Name())
			}
		}
	}
	walk(root, registerSchemeCompletion)
	useConfig(root)
	walk(root, func(c *cobra.Command) {
		if c != root && !c.Runnable() && c.HasSubCommands() {
			c.RunE = unknownSubcommand
		}
	})
}

// unknownSubcommand makes `miexit auth foo` a usage error naming the
// choices, where cobra would print the help and exit 0.
func unknownSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return c.Help()
	}
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return usageError{fmt.Errorf("%s: unknown command %q; choose one of %s", c.CommandPath(), args[0], strings.Join(names, ", "))}
}

// helpHint is the next step after a usage error: the help of the command
// the user was typing, which shows its examples.
func helpHint(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil || c == nil {
		c = root
	}
	return fmt.Sprintf("Run `%s --help` for usage and examples.", c.CommandPath())
}

func completionExample(shell string) string {
	switch shell {
	case "bash":
		return "  source <(miexit completion bash)\n  miexit completion bash > /etc/bash_completion.d/miexit"
	case "zsh":
		return "  source <(miexit completion zsh)\n  miexit completion zsh > \"${fpath[1]}/_miexit\""
	case "fish":
		return "  miexit completion fish | source\n  miexit completion fish > ~/.config/fish/completions/miexit.fish"
	case "powershell":
		return "  miexit completion powershell | Out-String | Invoke-Expression"
	}
	return "  miexit completion " + shell
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// registerSchemeCompletion completes --from with the source schemes and
// --to with the destination schemes, except where the flag is a snapshot
// folder (export --to, import --from), which completes as a folder.
func registerSchemeCompletion(c *cobra.Command) {
	folder := func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	if f := c.Flags().Lookup("from"); f != nil {
		switch c.Name() {
		case "import":
			c.RegisterFlagCompletionFunc("from", folder)
		case "checklist":
			c.RegisterFlagCompletionFunc("from", schemeCompleter([]string{"adb"}, nil))
		default:
			c.RegisterFlagCompletionFunc("from", schemeCompleter(exporters.Schemes(), map[string]string{
				"adb": "the phone over USB debugging", "archive": "MIUI backups and downloaded files",
				"micloud": "Mi Cloud on the web",
			}))
		}
	}
	if f := c.Flags().Lookup("to"); f != nil {
		switch c.Name() {
		case "export":
			c.RegisterFlagCompletionFunc("to", folder)
		default:
			c.RegisterFlagCompletionFunc("to", schemeCompleter(importers.Schemes(), map[string]string{
				"dir": "a local folder", "google": "Google Contacts and Drive", "dropbox": "Dropbox", "onedrive": "OneDrive",
			}))
		}
	}
}

// schemeCompleter offers "scheme:" for each scheme (and the bare scheme
// where it needs no argument), without a trailing space so the user can
// go on typing the path or serial.
func schemeCompleter(schemes []string, desc map[string]string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, s := range schemes {
			forms := []string{s, s + ":"}
			switch s {
			case "dir", "archive":
				forms = forms[1:] // always a path
			case "google":
				forms = forms[:1] // never an argument
			}
			for _, v := range forms {
				if strings.HasPrefix(v, toComplete) {
					out = append(out, cobra.CompletionWithDesc(v, desc[s]))
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
}
