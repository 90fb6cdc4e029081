package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/errgroup"

	"github.com/miexit/miexit/importers"
	"github.com/miexit/miexit/importers/dropbox"
	"github.com/miexit/miexit/importers/google"
	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/pipeline"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// Row IDs of the cloud figures.
const (
	RowContacts = "contacts"
	RowRawHTTP  = "raw-upload"
	RowDrive    = "drive"
	RowDropbox  = "dropbox"
	// The same three with the fakes in a child process.
	RowRawApart     = RowRawHTTP + "-apart"
	RowDriveApart   = RowDrive + "-apart"
	RowDropboxApart = RowDropbox + "-apart"
)

// uploadWorkers is the importers' default concurrency (importers.Params
// and dropbox.Config both default to 4); the raw upload uses as many.
const uploadWorkers = 4

// cloudRows measures the cloud importers on their loopback fakes, through
// the real client libraries: the People calls for the generated contacts
// against issue 9's goal, and the upload of the generated media to fake
// Drive and fake Dropbox against a plain net/http upload of the same
// bytes to a handler that only hashes them.
func cloudRows(ctx context.Context, c Config, src string) ([]Row, error) {
	dir := filepath.Join(c.Work, "cloud")
	var rows []Row
	_, err := withTB(dir, func(t *fakeTB) error {
		// Contacts alone, so every People call is the contacts'.
		if c.Size.Contacts > 0 {
			r, err := contactsRow(ctx, c, t, filepath.Join(src, "contacts", "contacts.vcf"), filepath.Join(dir, "contacts"))
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		// The media alone, as a snapshot the importers upload.
		snapDir := filepath.Join(dir, "media-snapshot")
		if err := linkedExport(ctx, c, filepath.Join(src, "DCIM"), filepath.Join(dir, "media-phone", "DCIM"), snapDir); err != nil {
			return err
		}
		snap, err := snapshot.Open(snapDir)
		if err != nil {
			return err
		}
		var files []mapping.Entry
		var total int64
		for e, err := range snap.Files() {
			if err != nil {
				return err
			}
			files = append(files, e)
			total += e.Size
		}
		what := fmt.Sprintf("%d files, %s, %d at once", len(files), mb(total), uploadWorkers)

		for _, apart := range []bool{false, true} {
			r, err := uploadRows(ctx, c, t, snap, files, what, apart)
			if err != nil {
				return err
			}
			rows = append(rows, r...)
		}
		var migrates []Row
		for _, r := range rows {
			kind := map[string]string{RowDriveApart: "drive", RowDropboxApart: "dropbox"}[r.ID]
			if kind == "" {
				continue
			}
			m, err := remoteMigrateRow(ctx, c, kind, filepath.Join(dir, "media-phone"), filepath.Join(dir, kind+"-migrate"), r.dur)
			if err != nil {
				return err
			}
			migrates = append(migrates, m)
		}
		rows = append(rows, migrates...)
		return nil
	})
	return rows, err
}

// uploadRows times a raw upload of the files and their import to fake
// Drive and fake Dropbox: with apart, each fake (and the raw handler)
// runs in a child process of this binary, and the notes split the CPU
// time between the importer's process and the fake's.
func uploadRows(ctx context.Context, c Config, t *fakeTB, snap *snapshot.Reader, files []mapping.Entry, what string, apart bool) ([]Row, error) {
	var rows []Row
	suffix, where := "", ""
	if apart {
		suffix, where = "-apart", ", the fake in another process, keeping sizes and checksums, not bytes"
	}
	// serve starts kind's fake here or in a child; stop ends it and says
	// what it counted and what CPU it used (apart only).
	serve := func(kind string) (fakeHello, func() (fakeBye, error), error) {
		if apart {
			p, err := startFake(ctx, kind)
			if err != nil {
				return fakeHello{}, nil, err
			}
			return p.fakeHello, p.finish, nil
		}
		switch kind {
		case "drive":
			gs := googletest.New()
			return fakeHello{URL: gs.URL, Token: gs.Token}, func() (fakeBye, error) { defer gs.Close(); return fakeBye{Counts: gs.Counts()}, nil }, nil
		case "dropbox":
			const token = "bench-token"
			ds := dropboxtest.New(t, token)
			return fakeHello{URL: ds.URL, Token: token}, func() (fakeBye, error) { return fakeBye{Counts: ds.Counts()}, nil }, nil
		}
		var got atomic.Int64
		srv := httptest.NewServer(rawHandler(&got))
		return fakeHello{URL: srv.URL}, func() (fakeBye, error) { srv.Close(); return fakeBye{Bytes: got.Load()}, nil }, nil
	}
	split := func(cpu time.Duration, bye fakeBye) string {
		if !apart {
			return ""
		}
		return fmt.Sprintf("; CPU: miexit's process %s, the fake's %s", secs(cpu), secs(bye.CPUUser+bye.CPUSys))
	}
	// bound says what the fake alone allows: an importer costing no more
	// CPU than the raw client (rawCPU) still shares the cores with the
	// fake, so the upload takes at least their CPU over the cores.
	var rawCPU, rawDur time.Duration
	bound := func(bye fakeBye) string {
		if !apart {
			return ""
		}
		least := (rawCPU + bye.CPUUser + bye.CPUSys) / time.Duration(runtime.NumCPU())
		return fmt.Sprintf("; with an importer as cheap as the raw client, at least %s on %d cores: at most %s the speed of raw", secs(least), runtime.NumCPU(), speed(rawDur, least))
	}
	var want int64
	for _, e := range files {
		want += e.Size
	}

	c.Log.Info("raw upload", "files", len(files), "apart", apart)
	c.settle(snap.Dir())
	hello, stop, err := serve("raw")
	if err != nil {
		return nil, err
	}
	cpu0 := cpuSelf()
	rawDur, err = rawUpload(ctx, snap, files, hello.URL, nil)
	cpu := cpuSelf() - cpu0
	rawCPU = cpu
	bye, serr := stop()
	if err = errors.Join(err, serr); err != nil {
		return nil, err
	}
	if bye.Bytes != want {
		return nil, fmt.Errorf("raw upload: handler read %d bytes, want %d", bye.Bytes, want)
	}
	rows = append(rows, Row{ID: RowRawHTTP + suffix, Measure: "raw HTTP upload of the media (net/http PUT, loopback handler hashing with md5" + where + ")", Value: secs(rawDur), Ratio: "1.00x",
		Note: what + split(cpu, bye), dur: rawDur})

	c.Log.Info("drive upload", "apart", apart)
	if hello, stop, err = serve("drive"); err != nil {
		return nil, err
	}
	gim, err := google.NewWith(ctx, google.Options{
		Params:      importers.Params{SourceName: "bench", Log: c.Log},
		Endpoint:    hello.URL,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: hello.Token}),
	})
	if err != nil {
		stop()
		return nil, err
	}
	c.settle(snap.Dir())
	cpu0 = cpuSelf()
	d, err := timeImport(ctx, gim, snap, filepath.Join(t.dir, "drive"+suffix+"-ledger.db"))
	cpu = cpuSelf() - cpu0
	bye, serr = stop()
	if err = errors.Join(err, serr); err != nil {
		return nil, fmt.Errorf("drive upload: %w", err)
	}
	if n := bye.Counts[googletest.EPUploadMultipart] + bye.Counts[googletest.EPUploadStart]; n != len(files) {
		return nil, fmt.Errorf("drive upload started %d uploads for %d files", n, len(files))
	}
	rows = append(rows, Row{ID: RowDrive + suffix, Measure: "media -> fake Drive (google importer, drive/v3 client" + where + ")", Value: secs(d), Ratio: speed(rawDur, d) + " the speed of raw",
		Note: fmt.Sprintf("%s; %d requests: %d multipart, %d resumable in %d chunks%s; goal >= 0.80x", what, requests(bye.Counts), bye.Counts[googletest.EPUploadMultipart], bye.Counts[googletest.EPUploadStart], bye.Counts[googletest.EPUploadChunk], split(cpu, bye)+bound(bye)), dur: d})

	c.Log.Info("dropbox upload", "apart", apart)
	if hello, stop, err = serve("dropbox"); err != nil {
		return nil, err
	}
	dim, err := dropbox.New(dropbox.Config{
		Folder:      "/miexit/bench",
		Endpoint:    hello.URL,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: hello.Token, TokenType: "Bearer"}),
		Log:         c.Log,
	})
	if err != nil {
		stop()
		return nil, err
	}
	c.settle(snap.Dir())
	cpu0 = cpuSelf()
	d, err = timeImport(ctx, dim, snap, filepath.Join(t.dir, "dropbox"+suffix+"-ledger.db"))
	cpu = cpuSelf() - cpu0
	bye, serr = stop()
	if err = errors.Join(err, serr); err != nil {
		return nil, fmt.Errorf("dropbox upload: %w", err)
	}
	rows = append(rows, Row{ID: RowDropbox + suffix, Measure: "media -> fake Dropbox (dropbox importer, dropbox-sdk-go" + where + ")", Value: secs(d), Ratio: speed(rawDur, d) + " the speed of raw",
		Note: fmt.Sprintf("%s; %d requests (%s)%s; goal >= 0.80x", what, requests(bye.Counts), countsText(bye.Counts), split(cpu, bye)+bound(bye)), dur: d})
	return rows, nil
}

// contactsRow imports the generated vCards into an empty fake Google
// account and counts the People API calls.
func contactsRow(ctx context.Context, c Config, t *fakeTB, vcf, dir string) (Row, error) {
	snapDir := filepath.Join(dir, "snapshot")
	if err := linkedExport(ctx, c, vcf, filepath.Join(dir, "phone", "contacts.vcf"), snapDir); err != nil {
		return Row{}, err
	}
	snap, err := snapshot.Open(snapDir)
	if err != nil {
		return Row{}, err
	}
	var n, photos int
	labels := map[string]bool{}
	for ct, err := range snap.Contacts() {
		if err != nil {
			return Row{}, err
		}
		n++
		if ct.Card.Get("PHOTO") != nil {
			photos++
		}
		for _, f := range ct.Card["CATEGORIES"] {
			for l := range strings.SplitSeq(f.Value, ",") {
				labels[strings.TrimSpace(l)] = true
			}
		}
	}
	gs := googletest.New()
	t.Cleanup(gs.Close)
	im, err := google.NewWith(ctx, google.Options{
		Params:      importers.Params{SourceName: "bench", Log: c.Log},
		Endpoint:    gs.URL,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: gs.Token}),
	})
	if err != nil {
		return Row{}, err
	}
	c.Log.Info("contacts", "n", n)
	d, err := timeImport(ctx, im, snap, filepath.Join(dir, "ledger.db"))
	if err != nil {
		return Row{}, fmt.Errorf("contacts import: %w", err)
	}
	counts := gs.Counts()
	var calls, writes int
	for ep, k := range counts {
		if strings.HasPrefix(ep, "people.") || strings.HasPrefix(ep, "contactGroups.") {
			calls += k
			if ep != googletest.EPConnections && ep != googletest.EPGroupsList {
				writes += k
			}
		}
	}
	batches := (n + googletest.MaxBatchCreate - 1) / googletest.MaxBatchCreate
	goal := batches + len(labels) + photos
	return Row{ID: RowContacts, Measure: fmt.Sprintf("%d contacts (%d photos, %d labels) -> fake Google People", n, photos, len(labels)),
		Value: fmt.Sprintf("%d calls", calls), Ratio: fmt.Sprintf("%.2fx of goal %d", float64(calls)/float64(goal), goal),
		Note: fmt.Sprintf("goal ceil(N/200)+labels+photos = %d+%d+%d; writes %d (batchCreate %d, updateContactPhoto %d, groups.create %d, members.modify %d), reads %d (connections.list %d, contactGroups.list %d); took %s",
			batches, len(labels), photos, writes, counts[googletest.EPBatchCreate], counts[googletest.EPUpdatePhoto], counts[googletest.EPGroupsCreate], counts[googletest.EPMembersModify],
			calls-writes, counts[googletest.EPConnections], counts[googletest.EPGroupsList], secs(d)), dur: d}, nil
}

func timeImport(ctx context.Context, im importers.Importer, snap *snapshot.Reader, ledgerPath string) (time.Duration, error) {
	led, err := ledger.Open(ledgerPath)
	if err != nil {
		return 0, err
	}
	t := time.Now()
	err = im.Import(ctx, snap, led, progress.Discard)
	d := time.Since(t)
	return d, errors.Join(err, led.Close())
}

// linkedExport hard-links from (a file or a folder) to the phone path to
// and exports that phone with the archive exporter into snapDir.
func linkedExport(ctx context.Context, c Config, from, to, snapDir string) error {
	err := filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Link(p, dst)
	})
	if err != nil {
		return fmt.Errorf("link %s: %w", from, err)
	}
	phone := filepath.Dir(to)
	if _, err := pipeline.Export(ctx, "archive:"+phone, snapDir, pipeline.Options{StateDir: snapDir + "-state", Log: c.Log}); err != nil {
		return fmt.Errorf("export %s: %w", phone, err)
	}
	return nil
}

// rawUpload PUTs every file's bytes to a loopback handler that reads and
// hashes them, uploadWorkers at a time: what any HTTP upload of these
// bytes costs on this machine, with no API around it.
func rawUpload(ctx context.Context, snap *snapshot.Reader, files []mapping.Entry, url string, got func() int64) (time.Duration, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: uploadWorkers + 2}}
	defer hc.CloseIdleConnections()
	t := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadWorkers)
	var want int64
	for i, e := range files {
		want += e.Size
		g.Go(func() error {
			f, err := snap.Open(e.Path)
			if err != nil {
				return err
			}
			defer f.Close()
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/upload/%d", url, i), f)
			if err != nil {
				return err
			}
			req.ContentLength = e.Size
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("raw upload %s: %w", e.Path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("raw upload %s: %s", e.Path, resp.Status)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	d := time.Since(t)
	if got != nil && got() != want {
		return 0, fmt.Errorf("raw upload: handler read %d bytes, want %d", got(), want)
	}
	return d, nil
}

func requests(counts map[string]int) int {
	n := 0
	for _, k := range counts {
		n += k
	}
	return n
}

// countsText lists request counts by route, most first.
func countsText(counts map[string]int) string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(counts[b]-counts[a], strings.Compare(a, b)) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
