package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/miexit/miexit/internal/dav"
	"github.com/miexit/miexit/internal/statedir"
	"github.com/miexit/miexit/mapping"
)

// authDavCmd is `miexit auth carddav|webdav URL`: a user name and app
// password, tried against the server once, then stored 0600 in the config
// dir for the carddav: and webdav: destinations below URL.
func authDavCmd(g *globals, scheme, example string) *cobra.Command {
	var noCheck bool
	c := &cobra.Command{
		Use:   scheme + " URL",
		Short: "Store the user name and app password for " + scheme + ": destinations under URL (0600, never printed)",
		Long: `Asks for the user name and an app password (made in the server's security
settings: Nextcloud, Fastmail and iCloud all refuse the account's own password
for DAV once two-factor sign-in is on), tries them with one PROPFIND, and stores
them with 0600 permissions in miexit's config dir. They cover every address book
or folder whose URL starts with URL. The password is read without echo from a
terminal, or from ` + dav.EnvUser + ` and ` + dav.EnvPassword + `, which also
work without this command; it is never printed or logged.`,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := dav.NormalizeURL(args[0])
			if err != nil {
				return err
			}
			cred, err := readCred(g)
			if err != nil {
				return err
			}
			if !noCheck {
				if err := tryCred(cmd.Context(), scheme, u.String(), cred); err != nil {
					return fmt.Errorf("not saved: %w", err)
				}
			}
			dir := statedir.Config()
			if err := dav.Save(dir, u.String(), cred); err != nil {
				return fmt.Errorf("save the %s credentials in %s: %w", scheme, dir, err)
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "Saved for %s (user %s). Use it with: miexit migrate --from SOURCE --to %s:%s\n", u.Redacted(), cred.User, scheme, u.Redacted())
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noCheck, "no-check", false, "store without trying them against the server")
	return c
}

// readCred takes the environment's credentials, else asks; the password
// is read without echo when stdin is a terminal.
func readCred(g *globals) (dav.Cred, error) {
	c := dav.Cred{User: os.Getenv(dav.EnvUser), Password: os.Getenv(dav.EnvPassword)}
	if c.User != "" && c.Password != "" {
		return c, nil
	}
	in := bufio.NewReader(stdin)
	if c.User == "" {
		fmt.Fprint(g.stderr, "user name: ")
		s, _ := in.ReadString('\n')
		c.User = strings.TrimSpace(s)
	}
	if c.Password == "" {
		fmt.Fprint(g.stderr, "app password: ")
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(g.stderr)
			if err != nil {
				return c, fmt.Errorf("read the app password: %w", err)
			}
			c.Password = strings.TrimSpace(string(b))
		} else {
			s, _ := in.ReadString('\n')
			c.Password = strings.TrimSpace(s)
		}
	}
	if c.User == "" || c.Password == "" {
		return c, fmt.Errorf("%w: both a user name and an app password are needed (or set %s and %s)", mapping.ErrBadInput, dav.EnvUser, dav.EnvPassword)
	}
	return c, nil
}

// tryCred sends one PROPFIND Depth 0: a 401 is the wrong credentials, a
// 404 a folder the destination will make, which is fine.
func tryCred(ctx context.Context, scheme, raw string, c dav.Cred) error {
	u, err := dav.NormalizeURL(raw)
	if err != nil {
		return err
	}
	cl := dav.NewClient(scheme, u, c, nil, 1)
	const body = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>`
	res, err := cl.Send(ctx, scheme+": sign in at "+u.Redacted(), dav.Request{
		Method: "PROPFIND", URL: u.String(), Header: http.Header{"Depth": {"0"}, "Content-Type": {"application/xml; charset=utf-8"}},
		Body: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }, Size: int64(len(body)),
		OK: []int{http.StatusNotFound, http.StatusMultiStatus},
	})
	if err != nil {
		return err
	}
	dav.Drain(res)
	return nil
}
