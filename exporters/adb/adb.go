// Package adb exports a phone's contacts, messages, call log and media over
// ADB: sources "adb" (the only connected phone) and "adb:SERIAL".
//
// It reads content providers with Android's `content` tool as the shell
// user (no root, no app on the phone) and files with the sync service. The
// wire protocol lives in internal/adb, the parsing of `content query`
// output in exporters/adb/provider; this package maps rows to miexit's
// model and walks the storage.
package adb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func init() {
	exporters.Register("adb", func(ctx context.Context, p exporters.Params) (exporters.Exporter, error) {
		c, err := adb.New()
		if err != nil {
			return nil, err
		}
		return Open(ctx, c, p.Arg, Options{Log: p.Log})
	})
}

// Options tune an export.
type Options struct {
	// Storage is the phone's shared storage root.
	Storage string
	// MediaDirs are the folders under Storage whose files are media.
	MediaDirs []string
	// Exclude lists folders under Storage to leave out.
	Exclude []string
	// Parallel is how many files are pulled at once, each through its own
	// sync session (default 4: one session leaves the link idle between
	// files). The manifest's order does not depend on it.
	Parallel int
	// PhoneJobs is how many `content` commands run at once on the phone
	// for per-message work (MMS addresses and attachments); each starts a
	// Java process there.
	PhoneJobs int
	Log       *slog.Logger
}

// DefaultParallel is how many files an export pulls at once: through the
// real adb server 4 sync sessions match `adb pull`, 1 reaches 0.66x of it.
const DefaultParallel = 4

// DefaultMediaDirs are where MIUI keeps photos, videos and recordings.
var DefaultMediaDirs = []string{
	"DCIM", "Pictures", "Movies", "MIUI/Gallery/cloud", "MIUI/sound_recorder", "Recordings", "Music/Recordings",
}

// Exporter reads one phone.
type Exporter struct {
	dev *adb.Device
	opt Options
	log *slog.Logger

	mu      sync.Mutex
	photos  int      // contacts with a photo that was not copied
	skipped []string // device files left out, with why
	notices []string
}

// Open picks the phone (serial "" = the only one) and checks it answers.
func Open(ctx context.Context, c *adb.Client, serial string, opt Options) (*Exporter, error) {
	d, err := c.Pick(ctx, serial)
	if err != nil {
		return nil, err
	}
	if _, err := d.Features(ctx); err != nil {
		return nil, err
	}
	if opt.Storage == "" {
		opt.Storage = "/storage/emulated/0"
	}
	if opt.MediaDirs == nil {
		opt.MediaDirs = DefaultMediaDirs
	}
	if opt.Parallel <= 0 {
		opt.Parallel = DefaultParallel
	}
	if opt.PhoneJobs <= 0 {
		opt.PhoneJobs = 4
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Exporter{dev: d, opt: opt, log: opt.Log.With("source", "adb:"+d.Serial)}, nil
}

// Name is the phone's serial.
func (e *Exporter) Name() string { return e.dev.Serial }

// PhotosNotCopied is how many contacts have a photo the export could not
// copy: Android serves contact photos only to apps, not to `content`, so
// they come only from a .vcf exported with the Contacts app and left on
// the phone (root, Download, Documents). After Inventory it counts every
// contact with a photo; after Export, those no .vcf card filled.
func (e *Exporter) PhotosNotCopied() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.photos
}

// Skipped lists device files left out (unreadable, names that cannot be
// stored), each with the reason. Valid after Export.
func (e *Exporter) Skipped() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.skipped...)
}

// Notices are facts about the source a person should read in the
// inventory: what the shell user cannot see, what was not copied.
func (e *Exporter) Notices() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]string(nil), e.notices...)
	out = append(out, "SMS: Android shows the shell user only received and sent messages; drafts, outbox and failed messages are not visible over ADB (use a MIUI local backup for them).")
	if e.photos > 0 {
		out = append(out, fmt.Sprintf("Contacts: %d contacts have a photo that was not copied (Android does not serve contact photos over ADB); export a .vcf from the Contacts app to keep them.", e.photos))
	}
	return out
}

func (e *Exporter) skip(path, why string) {
	e.log.Warn("left out a file from the phone", "path", path, "why", why)
	e.mu.Lock()
	e.skipped = append(e.skipped, path+": "+why)
	e.mu.Unlock()
}

// Inventory counts what the phone holds, copying nothing.
func (e *Exporter) Inventory(ctx context.Context) (mapping.Counts, error) {
	var c mapping.Counts
	n, err := e.countContacts(ctx)
	if err != nil {
		return c, err
	}
	c.Contacts = n
	if c.Messages, err = e.countMessages(ctx); err != nil {
		return c, err
	}
	if c.Calls, err = e.countCalls(ctx); err != nil {
		return c, err
	}
	err = e.walkMedia(ctx, func(m item) error {
		if m.Thumbnail {
			c.Thumbnails++
		} else {
			c.Media++
		}
		return nil
	})
	return c, err
}

// Export copies everything into w.
func (e *Exporter) Export(ctx context.Context, w *snapshot.Writer) error {
	e.mu.Lock()
	e.skipped, e.photos = nil, 0
	e.mu.Unlock()
	if err := e.exportContacts(ctx, w); err != nil {
		return err
	}
	if err := e.exportSMS(ctx, w); err != nil {
		return err
	}
	if err := e.exportMMS(ctx, w); err != nil {
		return err
	}
	if err := e.exportCalls(ctx, w); err != nil {
		return err
	}
	return e.exportMedia(ctx, w)
}

// Device describes one connected phone for `miexit devices`.
type Device struct {
	Serial string `json:"serial"`
	State  string `json:"state"`
	Model  string `json:"model,omitempty"`
	// OS is the MIUI or HyperOS version ("MIUI V140", "HyperOS OS1.0"),
	// empty for other Android phones.
	OS      string `json:"os,omitempty"`
	Android string `json:"android,omitempty"`
	// Problem says what to do when State is not "device".
	Problem string `json:"problem,omitempty"`
}

// Devices lists the phones the adb server sees, asking ready ones for
// their model and MIUI version.
func Devices(ctx context.Context) ([]Device, error) {
	c, err := adb.New()
	if err != nil {
		return nil, err
	}
	return ListDevices(ctx, c)
}

// ListDevices is Devices with a given client.
func ListDevices(ctx context.Context, c *adb.Client) ([]Device, error) {
	infos, err := c.Devices(ctx)
	if err != nil {
		return nil, err
	}
	var out []Device
	for _, in := range infos {
		d := Device{Serial: in.Serial, State: in.State, Model: in.Model}
		switch in.State {
		case "device":
			dev := c.Device(in.Serial)
			if m, err := dev.GetProp(ctx, "ro.product.model"); err == nil && m != "" {
				d.Model = m
			}
			d.Android, _ = dev.GetProp(ctx, "ro.build.version.release")
			if v, _ := dev.GetProp(ctx, "ro.mi.os.version.name"); v != "" {
				d.OS = "HyperOS " + v
			} else if v, _ := dev.GetProp(ctx, "ro.miui.ui.version.name"); v != "" {
				d.OS = "MIUI " + v
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		case "unauthorized":
			d.Problem = adb.ErrUnauthorized.Error()
		case "offline":
			d.Problem = adb.ErrOffline.Error()
		default:
			d.Problem = "not booted into Android"
		}
		out = append(out, d)
	}
	return out, nil
}

// IsDenied reports whether err is a provider refusing the shell user.
func IsDenied(err error) bool {
	var d *deniedError
	return errors.As(err, &d)
}
