// Package onedrive is the "onedrive" destination: it uploads a snapshot's
// files to OneDrive through Microsoft Graph (internal/graph), checks each
// upload's QuickXorHash, and lists the destination for verify.
//
//	onedrive               the app folder, /Apps/miexit/<source name>
//	onedrive:/Some/Folder  that folder under the drive's root
//
// MIEXIT_ONEDRIVE_ENDPOINT replaces https://graph.microsoft.com/v1.0 and
// MIEXIT_ONEDRIVE_TOKEN gives a fixed access token, for checks and demos;
// otherwise tokens come from onedrive-token.json in the config folder.
package onedrive

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/internal/graph"
	"github.com/miexit/miexit/internal/quickxorhash"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// Environment variables read by the factory.
const (
	EnvEndpoint = "MIEXIT_ONEDRIVE_ENDPOINT"
	EnvToken    = "MIEXIT_ONEDRIVE_TOKEN"
	// EnvSmallMax lowers SmallMax (bytes), so tests of the whole binary
	// send small files through upload sessions too.
	EnvSmallMax = "MIEXIT_ONEDRIVE_SMALL_MAX"
)

// Upload sizes: a simple PUT up to SmallMax bytes, sessions above it in
// fragments of FragmentSize (a multiple of 320 KiB).
const (
	SmallMax     = 4 << 20
	FragmentSize = 32 * graph.FragmentUnit // 10 MiB
)

func init() { importers.Register("onedrive", open) }

func open(ctx context.Context, p importers.Params) (importers.Importer, error) {
	ts, err := tokenSource(ctx, p.ConfigDir)
	if err != nil {
		return nil, err
	}
	c := graph.New(ts, graph.Options{Endpoint: os.Getenv(EnvEndpoint), Workers: p.Concurrency})
	im, err := New(c, p)
	if err != nil {
		return nil, err
	}
	if v, err := strconv.ParseInt(os.Getenv(EnvSmallMax), 10, 64); err == nil && v >= 0 && v < im.smallMax {
		im.smallMax = v
	}
	return im, nil
}

// Importer uploads snapshots to one OneDrive folder.
type Importer struct {
	c        *graph.Client
	root     string // graph.Root or graph.AppRoot
	base     string // encoded folder path under root
	display  string // the folder as a person sees it
	p        importers.Params
	log      *slog.Logger
	smallMax int64
	fragSize int64
	acct     account
}

// New returns an importer using c, for the destination p.Arg names.
func New(c *graph.Client, p importers.Params) (*Importer, error) {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 4
	}
	im := &Importer{c: c, p: p, log: p.Log, smallMax: SmallMax, fragSize: FragmentSize}
	arg := strings.TrimSpace(p.Arg)
	if arg == "" {
		src := snapshot.SafeName(p.SourceName, "snapshot")
		im.root, im.base = graph.AppRoot, encodeName(src)
		im.display = "/Apps/miexit/" + src
	} else {
		arg = strings.ReplaceAll(arg, "\\", "/")
		for _, s := range strings.Split(arg, "/") {
			if s == ".." {
				return nil, fmt.Errorf("%w: onedrive folder %q: \"..\" is not allowed", mapping.ErrBadInput, p.Arg)
			}
		}
		clean := path.Clean("/" + arg)
		im.root, im.display = graph.Root, clean
		var segs []string
		for _, s := range strings.Split(strings.Trim(clean, "/"), "/") {
			if s != "" {
				segs = append(segs, encodeName(s))
			}
		}
		im.base = strings.Join(segs, "/")
	}
	return im, nil
}

// Name identifies the destination in the ledger and reports.
func (im *Importer) Name() string { return "onedrive:" + im.display }

// NewHash returns the checksum List puts in Remote.Hash (base64, as Graph
// gives it).
func (im *Importer) NewHash() hash.Hash { return quickxorhash.New() }

// EncodeHash writes a checksum as Graph does: base64.
func (im *Importer) EncodeHash(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// remotePath is a remote relative path under the destination folder.
func (im *Importer) remotePath(rel string) string { return join(im.base, rel) }

// compile-time checks
var (
	_ importers.Importer    = (*Importer)(nil)
	_ importers.Hasher      = (*Importer)(nil)
	_ importers.HashEncoder = (*Importer)(nil)
	_ oauth2.TokenSource    = oauth2.StaticTokenSource(nil)
)
