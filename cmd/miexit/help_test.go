package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command a person can run shows an example in --help. The rule is
// strict on purpose: a command added later without one fails here.
func TestEveryRunnableCommandHasAnExample(t *testing.T) {
	root := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
	n := 0
	walk(root, func(c *cobra.Command) {
		if c.Hidden || !c.Runnable() {
			return
		}
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
	})
	for _, want := range []string{"checklist", "version", "devices", "completion", "help"} {
		if c, _, err := root.Find([]string{want}); err != nil || c.Name() != want {
			t.Errorf("no %s command", want)
		}
	}
	if n < 15 {
		t.Errorf("walked only %d runnable commands", n)
	}
}

func TestHelpShowsExamples(t *testing.T) {
	for _, args := range [][]string{{"checklist", "--help"}, {"auth", "google", "--help"}, {"version", "--help"}, {"help", "devices"}} {
		r := miexit(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%v: exit %d, no Examples:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := miexit(t, "completion", sh)
		if r.code != 0 || len(r.stdout) < 500 || !strings.Contains(r.stdout, "miexit") {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", sh, r.code, len(r.stdout), r.stderr)
		}
	}
	if r := miexit(t, "completion", "tcsh"); r.code != 2 {
		t.Errorf("completion for an unknown shell: exit %d", r.code)
	}
}

func TestDynamicCompletionOfSchemes(t *testing.T) {
	cases := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"migrate", "--to", ""}, []string{"dir:", "google", "dropbox:", "onedrive"}, []string{"google:", "adb"}},
		{[]string{"inventory", "--from", "a"}, []string{"adb", "adb:", "archive:"}, []string{"archive\t", "micloud", "dir:"}},
		{[]string{"checklist", "--from", ""}, []string{"adb:"}, []string{"archive:", "micloud"}},
	}
	for _, c := range cases {
		r := miexit(t, append([]string{"__complete"}, c.args...)...)
		got := map[string]bool{}
		for _, line := range strings.Split(r.stdout, "\n") {
			v, _, _ := strings.Cut(line, "\t")
			got[v] = true
		}
		for _, w := range c.want {
			if !got[w] {
				t.Errorf("%v: no %q in\n%s", c.args, w, r.stdout)
			}
		}
		for _, w := range c.not {
			if got[strings.TrimSuffix(w, "\t")] {
				t.Errorf("%v: offers %q:\n%s", c.args, w, r.stdout)
			}
		}
	}
}

func TestUnknownSubcommandIsAUsageErrorNamingTheChoices(t *testing.T) {
	r := miexit(t, "auth", "gogle")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "gogle"`) || !strings.Contains(r.stderr, "google") {
		t.Errorf("auth gogle: exit %d, %q", r.code, r.stderr)
	}
	if r := miexit(t, "auth"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("auth alone: exit %d, %q", r.code, r.stdout)
	}
}

func TestUsageErrorsPointAtTheCommandsHelp(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--from", "adb"}, "Run `miexit migrate --help`"},
		{[]string{"verify", "--frm", "x"}, "Run `miexit verify --help`"},
		{[]string{"auth", "gogle"}, "Run `miexit auth --help`"},
		{[]string{"bogus"}, "Run `miexit --help`"},
	}
	for _, c := range cases {
		r := miexit(t, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
