package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/miexit/miexit/exporters/micloud"
	"github.com/miexit/miexit/importers/dropbox"
	"github.com/miexit/miexit/importers/google"
	"github.com/miexit/miexit/importers/onedrive"
	"github.com/miexit/miexit/internal/oauthcli"
	"github.com/miexit/miexit/internal/statedir"
)

// stdin is replaced in tests.
var stdin io.Reader = os.Stdin

func authCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "auth SERVICE",
		Short:   "Sign in to a source or destination once; tokens are stored 0600 and never printed",
		Example: "  miexit auth google\n  miexit auth dropbox --app-key KEY\n  miexit auth onedrive --client-id ID\n  miexit auth micloud --region eu\n  miexit auth carddav https://cloud.example.org/remote.php/dav/\n  miexit auth webdav https://nas.local:5006/miexit/",
	}
	c.AddCommand(authGoogleCmd(g), authMiCloudCmd(g), authDropboxCmd(g), authOneDriveCmd(g),
		authDavCmd(g, "carddav", "  miexit auth carddav https://cloud.example.org/remote.php/dav/\n  miexit auth carddav https://carddav.fastmail.com/\n  MIEXIT_DAV_USER=me MIEXIT_DAV_PASSWORD=... miexit auth carddav https://contacts.icloud.com/"),
		authDavCmd(g, "webdav", "  miexit auth webdav https://cloud.example.org/remote.php/dav/files/me/\n  miexit auth webdav https://nas.local:5006/miexit/"))
	return c
}

func authMiCloudCmd(g *globals) *cobra.Command {
	var region string
	c := &cobra.Command{
		Use:   "micloud",
		Short: "Store your Xiaomi account's userId and passToken cookies for micloud:",
		Long: `Xiaomi's password login meets captchas and second verification, so miexit
asks for two cookies of your Xiaomi account instead:

 1. In a desktop browser, open https://i.mi.com, sign in, open Cloud Album once
    and tick "trust this device" if asked.
 2. Open the developer tools (F12) > Application (Chrome) or Storage (Firefox)
    > Cookies > https://account.xiaomi.com.
 3. Paste the values of the cookies userId and passToken when asked.

They are stored with 0600 permissions in miexit's config dir and never printed.
Signing out in that browser ends the passToken: close the tab instead.`,
		Example: "  miexit auth micloud --region eu",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := statedir.Config()
			in := bufio.NewReader(stdin)
			fmt.Fprint(g.stderr, "userId cookie: ")
			user, _ := in.ReadString('\n')
			fmt.Fprint(g.stderr, "passToken cookie: ")
			pass, _ := in.ReadString('\n')
			if err := micloud.SaveAuth(dir, strings.TrimSpace(user), strings.TrimSpace(pass)); err != nil {
				return err
			}
			if region != "" {
				if err := micloud.SetRegion(dir, region); err != nil {
					return err
				}
			}
			if !g.quiet {
				fmt.Fprintln(g.stdout, "Saved. Check it with: miexit inventory --from micloud")
			}
			return nil
		},
	}
	c.Flags().StringVar(&region, "region", "", "Mi Cloud region: cn, us, eu or in (remembered)")
	return c
}

func authDropboxCmd(g *globals) *cobra.Command {
	var appKey string
	var port int
	var loopback bool
	c := &cobra.Command{
		Use:   "dropbox --app-key KEY",
		Short: "Sign in to Dropbox (PKCE with your app key; the refresh token is stored 0600)",
		Long: `Create a Dropbox app at https://www.dropbox.com/developers/apps (scoped access,
App folder or Full Dropbox, permissions files.content.write and files.content.read,
files.metadata.read), copy its App key, and run this command. Without --loopback
Dropbox shows a code to paste here; with --loopback --port N, list
http://127.0.0.1:N/ as a redirect URI of the app first.
The app key can also come from MIEXIT_DROPBOX_APP_KEY.`,
		Example: "  miexit auth dropbox --app-key abc123\n  miexit auth dropbox --app-key abc123 --loopback --port 53682",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if appKey == "" {
				appKey = os.Getenv("MIEXIT_DROPBOX_APP_KEY")
			}
			if err := need("app-key", appKey); err != nil {
				return err
			}
			return dropbox.Auth(cmd.Context(), dropbox.AuthOptions{
				AppKey: appKey, ConfigDir: statedir.Config(), Loopback: loopback, Port: port,
				Out: g.stderr, In: stdin,
			})
		},
	}
	c.Flags().StringVar(&appKey, "app-key", "", "your Dropbox app's key")
	c.Flags().BoolVar(&loopback, "loopback", false, "receive the code on a 127.0.0.1 redirect instead of pasting it")
	c.Flags().IntVar(&port, "port", 0, "loopback port (must match the app's redirect URI)")
	return c
}

func authOneDriveCmd(g *globals) *cobra.Command {
	var clientID string
	var noBrowser bool
	c := &cobra.Command{
		Use:   "onedrive --client-id ID",
		Short: "Sign in to OneDrive (PKCE in the browser, or the device code with --no-browser); the rotating refresh token is stored 0600",
		Long: `Register an app at https://entra.microsoft.com (App registrations > New
registration, "Personal Microsoft accounts only", platform "Mobile and desktop
applications" with redirect http://localhost, and "Allow public client flows" on
for --no-browser), then run this command with its Application (client) ID.
Without --no-browser a browser opens and redirects to a one-time listener on
127.0.0.1; with it, miexit shows a page and a code to type on any device.
See docs/onedrive.md. The client id can also come from MIEXIT_ONEDRIVE_CLIENT_ID.`,
		Example: "  miexit auth onedrive --client-id 00000000-0000-0000-0000-000000000000\n  miexit auth onedrive --client-id ID --no-browser",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientID == "" {
				clientID = os.Getenv("MIEXIT_ONEDRIVE_CLIENT_ID")
			}
			if err := need("client-id", clientID); err != nil {
				return err
			}
			dir := statedir.Config()
			var err error
			if noBrowser {
				err = onedrive.DeviceLogin(cmd.Context(), onedrive.OAuthConfig(clientID, ""), dir, func(uri, code string) {
					fmt.Fprintf(g.stderr, "Open %s and enter the code %s\n", uri, code)
				})
			} else {
				flow := oauthcli.Flow{Config: *onedrive.OAuthConfig(clientID, ""), Out: g.stderr}
				var tok *oauth2.Token
				if tok, err = flow.Run(cmd.Context()); err == nil {
					err = onedrive.SaveToken(filepath.Join(dir, onedrive.TokenFile), clientID, tok)
				}
			}
			if err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintln(g.stdout, "Signed in. Try: miexit migrate --from archive:testdata/sample --to onedrive")
			}
			return nil
		},
	}
	c.Flags().StringVar(&clientID, "client-id", "", "your app registration's Application (client) ID")
	c.Flags().BoolVar(&noBrowser, "no-browser", false, "use the device-code flow instead of a browser on this machine")
	return c
}
func authGoogleCmd(g *globals) *cobra.Command {
	var noBrowser bool
	c := &cobra.Command{
		Use:   "google",
		Short: "Sign in to Google (Contacts and the Drive files miexit creates); the token is stored 0600",
		Long: `miexit uses your own OAuth client, so no third party ever holds your token:

 1. In https://console.cloud.google.com create a project, enable the "Google People
    API" and the "Google Drive API".
 2. OAuth consent screen: External, add yourself as a test user; scopes
    .../auth/contacts and .../auth/drive.file.
 3. Credentials > Create credentials > OAuth client ID > Desktop app; download the
    JSON and save it as google-client.json in miexit's config dir (or set
    MIEXIT_GOOGLE_CLIENT_ID and MIEXIT_GOOGLE_CLIENT_SECRET).
 4. Run this command: a browser opens, you allow access, and the page redirects to
    a one-time listener on 127.0.0.1. With --no-browser, open the printed URL yourself.`,
		Example: "  miexit auth google\n  miexit auth google --no-browser",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := google.Auth(cmd.Context(), google.AuthOptions{ConfigDir: statedir.Config(), NoBrowser: noBrowser, Out: g.stderr})
			if err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintln(g.stdout, "Signed in; token saved in", p)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noBrowser, "no-browser", false, "print the sign-in URL instead of opening a browser")
	return c
}
