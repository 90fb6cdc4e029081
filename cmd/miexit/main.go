// Command miexit moves a person's data out of Xiaomi's Mi Cloud and off a
// MIUI/HyperOS phone, and proves nothing was lost before they sign out.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/miexit/miexit/exporters/adb"
	_ "github.com/miexit/miexit/exporters/archive"
	_ "github.com/miexit/miexit/exporters/micloud"
	_ "github.com/miexit/miexit/importers/carddav"
	_ "github.com/miexit/miexit/importers/dir"
	_ "github.com/miexit/miexit/importers/dropbox"
	_ "github.com/miexit/miexit/importers/google"
	_ "github.com/miexit/miexit/importers/onedrive"
	_ "github.com/miexit/miexit/importers/webdav"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
