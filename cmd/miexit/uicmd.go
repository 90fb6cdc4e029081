package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/miexit/miexit/internal/oauthcli"
	"github.com/miexit/miexit/internal/webui"
)

// openBrowser is replaced in tests.
var openBrowser = oauthcli.OpenBrowser

func uiCmd(g *globals) *cobra.Command {
	var listen string
	var noBrowser bool
	var jobs int
	c := &cobra.Command{
		Use:   "ui",
		Short: "Do the whole exit from a page in your browser (served on this computer only)",
		Long: `ui starts a local web page on 127.0.0.1 and opens it in your browser: choose
where your data is (a phone over ADB, a backup folder or zip, Mi Cloud) and
where it should go (a folder, Google, Dropbox, OneDrive), start the copy and
watch it, see the verify table and the checklist that says when it is safe to
sign out of Mi Cloud. It runs the same jobs as migrate, verify and checklist,
with the same state dir, so the page and these commands see the same history.

The page answers only on a loopback address and only with the random token in
the address printed here; close the page at any time, and stop ui with Ctrl+C.
An unfinished copy can be resumed from the page the next time.`,
		Example: "  miexit ui\n  miexit ui --listen 127.0.0.1:8765 --no-browser",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !webui.IsLoopback(listen) {
				return usageError{fmt.Errorf("--listen %s: the page is served only on this computer; use a loopback address such as 127.0.0.1:8765", listen)}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("ui: listen on %s: %w (choose another port with --listen 127.0.0.1:PORT)", listen, err)
			}
			tok, err := webui.NewToken()
			if err != nil {
				ln.Close()
				return err
			}
			s, err := webui.New(webui.Options{Addr: ln.Addr().String(), Token: tok, StateDir: g.stateDir, Log: g.logger(), Concurrency: jobs})
			if err != nil {
				ln.Close()
				return err
			}
			srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			fmt.Fprintf(g.stderr, "miexit ui: open %s\n(the address holds this run's key: do not share it; stop with Ctrl+C)\n", s.URL())
			if !noBrowser {
				if err := openBrowser(s.URL()); err != nil {
					fmt.Fprintf(g.stderr, "miexit ui: no browser could be opened (%v): open the address above yourself\n", err)
				}
			}
			select {
			case err = <-served:
			case <-cmd.Context().Done():
			}
			// A copy still running stops here and is marked resumable; its
			// event streams end with it, so the shutdown need not wait.
			s.Close()
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(shut)
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("ui: %w", err)
			}
			return nil
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to serve the page on (port 0 picks a free one)")
	c.Flags().BoolVar(&noBrowser, "no-browser", false, "print the address instead of opening a browser")
	c.Flags().IntVarP(&jobs, "jobs", "j", 4, "uploads at once")
	return c
}
