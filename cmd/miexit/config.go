package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/miexit/miexit/internal/config"
	"github.com/miexit/miexit/mapping"
)

// useConfig adds --config and applies the config file before each command
// runs: a flag given on the command line wins, then the command's table,
// then its parents' tables, then the top level, then the built-in default.
func useConfig(root *cobra.Command) {
	var path string
	root.PersistentFlags().StringVar(&path, "config", "", "config file with defaults for flags (default $MIEXIT_CONFIG_DIR or the OS config dir + /miexit/config.toml)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if !usesConfig(cmd) {
			return nil
		}
		p, optional := path, false
		if p == "" {
			p, optional = config.DefaultPath(), true
		}
		f, err := config.Load(p, optional)
		if err != nil {
			return err
		}
		if err := checkConfig(root, f); err != nil {
			return err
		}
		return applyConfig(cmd, f)
	}
}

// usesConfig: help, completion and version work even with a broken config.
func usesConfig(c *cobra.Command) bool {
	for p := c; p != nil; p = p.Parent() {
		switch p.Name() {
		case "help", "completion", "version", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return false
		}
	}
	return true
}

// notFromTopLevel are flags whose meaning differs from the same name
// elsewhere (a snapshot folder, not a source or destination; only a
// phone): they take a value only from their own command's table.
var notFromTopLevel = map[string]bool{"export to": true, "import from": true, "checklist from": true}

// exclusive pairs flags where setting one on the command line must keep
// the config from setting the other.
var exclusive = map[string]string{"quiet": "verbose", "verbose": "quiet"}

// ignoredKeys are flags that make no sense in a config file.
var ignoredKeys = map[string]bool{"config": true, "help": true}

func commandPath(c *cobra.Command) string {
	return strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), c.Root().Name()))
}

// checkConfig refuses a table that is no command and a key that is no flag,
// so a typo never silently does nothing.
func checkConfig(root *cobra.Command, f *config.File) error {
	cmds := map[string]*cobra.Command{}
	anyFlag := map[string]bool{}
	walk(root, func(c *cobra.Command) {
		cmds[commandPath(c)] = c
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) { anyFlag[fl.Name] = true })
		}
	})
	for _, name := range sortedSections(f) {
		c := cmds[name]
		if name == "" || c == nil || c == root {
			var names []string
			for _, sub := range root.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return fmt.Errorf("%w: config file %s: [%s] is no miexit command; tables are named after commands (%s)", mapping.ErrBadInput, f.Path, strings.ReplaceAll(name, " ", "."), strings.Join(names, ", "))
		}
		for k, v := range f.Sections[name] {
			if fl := c.Flag(k); fl == nil || ignoredKeys[k] {
				return fmt.Errorf("%w: config file %s: unknown key %q %s; keys are the flag names of `miexit %s` (%s)", mapping.ErrBadInput, f.Path, k, v.Where(), name, strings.Join(flagNames(c), ", "))
			}
		}
	}
	for k, v := range f.Top {
		if !anyFlag[k] || ignoredKeys[k] {
			return fmt.Errorf("%w: config file %s: unknown key %q %s; keys are flag names such as from, to, jobs, snapshot, state-dir (see `miexit COMMAND --help`)", mapping.ErrBadInput, f.Path, k, v.Where())
		}
	}
	return nil
}

// applyConfig sets the flags of c the command line left alone.
func applyConfig(c *cobra.Command, f *config.File) error {
	path := commandPath(c)
	for _, v := range f.For(path) {
		fl := c.Flag(v.Key)
		if fl == nil || fl.Changed || ignoredKeys[v.Key] {
			continue
		}
		if other := c.Flag(exclusive[v.Key]); other != nil && other.Changed {
			continue
		}
		if v.Section == "" && notFromTopLevel[path+" "+v.Key] {
			continue
		}
		// The environment names a state dir for this run; the config's
		// lasting default yields to it.
		if v.Key == "state-dir" && os.Getenv("MIEXIT_STATE_DIR") != "" {
			continue
		}
		vals, err := v.Strings()
		if err == nil {
			for _, s := range vals {
				if err = fl.Value.Set(s); err != nil {
					break
				}
			}
		}
		if err != nil {
			return fmt.Errorf("%w: config file %s: %s = %v %s: %v; `miexit %s --help` shows what --%s takes", mapping.ErrBadInput, f.Path, v.Key, v.Raw, v.Where(), err, path, v.Key)
		}
	}
	return nil
}

func flagNames(c *cobra.Command) []string {
	var out []string
	add := func(fl *pflag.Flag) {
		if !ignoredKeys[fl.Name] && !slices.Contains(out, fl.Name) {
			out = append(out, fl.Name)
		}
	}
	c.Flags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	slices.Sort(out)
	return out
}

func sortedSections(f *config.File) []string {
	var out []string
	for k := range f.Sections {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
