package dropbox

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox"
	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/files"

	"github.com/miexit/miexit/internal/dropboxhash"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// runState is one Import run.
type runState struct {
	im     *Importer
	led    *ledger.Ledger
	dest   string // the ledger key: importers.LedgerKey
	rep    progress.Reporter
	failed atomic.Int64

	haveMu sync.Mutex
	have   map[string]remoteFile // by lower-cased path in the folder
}

// at returns what the folder holds at rel, as listed or committed since.
func (r *runState) at(rel string) (remoteFile, bool) {
	r.haveMu.Lock()
	defer r.haveMu.Unlock()
	f, ok := r.have[strings.ToLower(rel)]
	return f, ok
}

// landed notes a file committed at rel.
func (r *runState) landed(rel string, f remoteFile) {
	r.haveMu.Lock()
	defer r.haveMu.Unlock()
	r.have[strings.ToLower(rel)] = f
}

// moved notes that the file at rel was moved away (kept aside).
func (r *runState) moved(rel string) {
	r.haveMu.Lock()
	defer r.haveMu.Unlock()
	delete(r.have, strings.ToLower(rel))
}

// rel is a full Dropbox path's place in the folder.
func (r *runState) rel(remote string) string {
	return strings.TrimPrefix(remote, r.im.cfg.Folder+"/")
}

func (r *runState) fail(j job, err error) {
	r.failed.Add(1)
	r.im.log.Warn("dropbox: upload failed", "path", j.e.Path, "err", err)
	r.rep.Report(progress.Event{Phase: "import", Kind: j.e.Kind, Item: j.e.Path, Action: progress.Failed, Err: err.Error()})
}

func (r *runState) remember(j job, id, rev, hash string) error {
	rec := ledger.Record{SHA256: j.e.SHA256, Size: j.e.Size, RemoteID: id, Extra: map[string]string{"path": j.remote, "rev": rev, "content_hash": hash}}
	if cm := clientModified(j.e); cm != nil {
		rec.ModTime = time.Time(*cm)
	}
	return r.led.Put(r.dest, j.e.Path, rec)
}

// done checks a committed file against the local content hash, records it
// and reports it.
func (r *runState) done(j job, meta *files.FileMetadata, hash string) error {
	if meta == nil {
		r.fail(j, fmt.Errorf("dropbox returned no metadata for %s", j.remote))
		return nil
	}
	if meta.ContentHash != hash {
		r.fail(j, fmt.Errorf("dropbox holds %s with content_hash %s, the snapshot's is %s", j.remote, meta.ContentHash, hash))
		return nil
	}
	if err := r.remember(j, meta.Id, meta.Rev, hash); err != nil {
		return err
	}
	rel := r.rel(j.remote)
	r.landed(rel, remoteFile{path: rel, id: meta.Id, rev: meta.Rev, hash: meta.ContentHash, size: int64(meta.Size)})
	ev := progress.Event{Phase: "import", Kind: j.e.Kind, Item: j.e.Path, Action: progress.Copied, Bytes: int64(meta.Size)}
	var notes []string
	if j.mapped {
		// Not an error: the file is there, under a name Dropbox accepts.
		notes = append(notes, "stored as "+j.remote+" (Dropbox refuses the original name or holds one differing only in case)")
		r.im.log.Info("dropbox: name mapped", "path", j.e.Path, "remote", j.remote)
	}
	if j.note != "" {
		notes = append(notes, j.note)
		r.im.log.Warn("dropbox: replaced a file miexit did not write", "path", j.e.Path, "note", j.note)
	}
	ev.Err = strings.Join(notes, "; ")
	r.rep.Report(ev)
	return nil
}

// one decides what a snapshot file needs and uploads it: small files go to
// the committer as closed sessions, large ones are committed here.
func (r *runState) one(ctx context.Context, snap snapshot.Files, j job, commits chan<- pending) error {
	im := r.im
	e := j.e
	rec, inLedger, err := r.led.Get(r.dest, e.Path)
	if err != nil {
		return err
	}
	cur, exists := r.at(r.rel(j.remote))
	hash, size := "", e.Size
	// A small file new to the folder is not read once before it is sent:
	// a file of one block goes with the content_hash its manifest sha256
	// gives it, which Dropbox checks; a larger one has its sha256 checked
	// against the manifest on the way, before its session is committed;
	// and Dropbox's content_hash of the committed file is compared with
	// the one sent or computed (done). Others need the content_hash
	// first: to compare with the file there, or for a large file's
	// resumable session.
	hashOnTheWay := !exists && e.Size <= im.cfg.SessionThreshold
	switch {
	case inLedger && rec.SHA256 == e.SHA256 && rec.Extra["content_hash"] != "":
		hash = rec.Extra["content_hash"]
	case hashOnTheWay && !im.cfg.DryRun:
		// A file of one block is not hashed here at all: its content_hash
		// follows from the manifest's sha256, and sent with the bytes it
		// makes Dropbox refuse any that are not the manifest's. Larger
		// files are hashed on the way.
		if sum, err := hex.DecodeString(e.SHA256); err == nil {
			if ch, ok := dropboxhash.OfOneBlock(sum, e.Size); ok {
				hash = hex.EncodeToString(ch)
			}
		}
	default:
		sha, ch, n, err := localHashes(snap, e.Path)
		if err != nil {
			r.fail(j, fmt.Errorf("read %s: %w", e.Path, err))
			return nil
		}
		if sha != e.SHA256 {
			r.fail(j, changed(e, sha))
			return nil
		}
		hash, size = ch, n
	}
	if exists && cur.hash == hash {
		// Record it unless the ledger already says exactly this: a
		// re-run of a big library should not rewrite the whole ledger.
		same := inLedger && rec.SHA256 == e.SHA256 && rec.Extra["path"] == j.remote && rec.Extra["rev"] == cur.rev && rec.Extra[xSession] == ""
		if !same {
			if err := r.remember(j, cur.id, cur.rev, hash); err != nil {
				return err
			}
		}
		r.rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: progress.Unchanged, Bytes: size})
		return nil
	}
	mode := &files.WriteMode{Tagged: dropbox.Tagged{Tag: files.WriteModeAdd}}
	if exists {
		if im.cfg.DryRun {
			r.rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: progress.WouldCopy, Bytes: size})
			return nil
		}
		if inLedger && strings.EqualFold(rec.Extra["path"], j.remote) {
			// Ours, and out of date: replace exactly the revision listed,
			// so a change made meanwhile by someone else is not lost.
			mode = &files.WriteMode{Tagged: dropbox.Tagged{Tag: files.WriteModeUpdate}, Update: cur.rev}
		} else {
			// Not known to be ours (someone else's file, or one verify
			// found damaged and forgot): keep it under another name.
			kept, err := r.keepAside(ctx, j.remote, cur.rev)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.fail(j, err)
				return nil
			}
			j.note = "the different file that was there is kept as " + kept
		}
	}
	if im.cfg.DryRun {
		r.rep.Report(progress.Event{Phase: "import", Kind: e.Kind, Item: e.Path, Action: progress.WouldCopy, Bytes: size})
		return nil
	}
	cm := clientModified(e)
	if size > im.cfg.SessionThreshold {
		meta, err := r.large(ctx, snap, j, rec, size, hash, mode, cm)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.fail(j, err)
			return nil
		}
		return r.done(j, meta, hash)
	}
	var sid string
	err = im.call(ctx, "dropbox upload "+e.Path, func(ctx context.Context) error {
		f, err := snap.Open(e.Path)
		if err != nil {
			return retry.Permanent(err)
		}
		defer f.Close()
		if hash != "" {
			// The hash is known already: sending it makes Dropbox check
			// the bytes, and stops the SDK reading the file a second time.
			fctx, err := withFile(ctx, f)
			if err != nil {
				return retry.Permanent(err)
			}
			res, err := im.client.UploadSessionStartContext(fctx, &files.UploadSessionStartArg{Close: true, ContentHash: hash}, files.WithoutAutoContentHash(f))
			if err != nil {
				return err
			}
			sid = res.SessionId
			return nil
		}
		sums := dropboxhash.NewPair()
		res, err := im.client.UploadSessionStartContext(ctx, &files.UploadSessionStartArg{Close: true},
			files.WithoutAutoContentHash(io.TeeReader(f, sums)))
		if err != nil {
			return err
		}
		if sent := hex.EncodeToString(sums.SHA256()); sent != e.SHA256 {
			// The session is never committed: nothing lands.
			return retry.Permanent(changed(e, sent))
		}
		sid, hash = res.SessionId, hex.EncodeToString(sums.ContentHash())
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if hash != "" && hashMismatch(err) {
			// Sent with a content_hash (the manifest's, the ledger's or
			// one just read): the file is read to say why.
			err = explainMismatch(snap, e, hash)
		}
		r.fail(j, fmt.Errorf("upload %s: %w", e.Path, err))
		return nil
	}
	select {
	case commits <- pending{job: j, session: sid, size: size, hash: hash, mode: mode, cm: cm}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hashMismatch reports whether Dropbox refused an upload's bytes as not
// those of the content_hash sent with them.
func hashMismatch(err error) bool {
	var se files.UploadSessionStartAPIError
	return errors.As(err, &se) && se.EndpointError != nil && se.EndpointError.Tag == files.UploadSessionStartErrorContentHashMismatch
}

// explainMismatch says why the bytes of e that Dropbox received did not
// match the content_hash ch sent with them: the snapshot file no longer
// holds the manifest's bytes, or (if it still does) they changed on the
// way or while it was sent.
func explainMismatch(snap snapshot.Files, e mapping.Entry, ch string) error {
	sha, _, _, err := localHashes(snap, e.Path)
	if err != nil {
		return fmt.Errorf("read %s: %w", e.Path, err)
	}
	if sha != e.SHA256 {
		return changed(e, sha)
	}
	return fmt.Errorf("Dropbox received other bytes than %s holds (content_hash %s expected); nothing was committed, run the import again", e.Path, ch)
}

// changed is the error for a snapshot file whose bytes (sha256 sha) are
// no longer the manifest's.
func changed(e mapping.Entry, sha string) error {
	return fmt.Errorf("%w: snapshot file %s no longer matches its manifest (sha256 %s, manifest %s); export again", mapping.ErrBadInput, e.Path, sha, e.SHA256)
}

func commitInfo(p string, mode *files.WriteMode, cm *dropbox.DBXTime) *files.CommitInfo {
	// Mute: a phone's worth of files must not flood the user's devices
	// with notifications.
	return &files.CommitInfo{Path: p, Mode: mode, ClientModified: cm, Mute: true}
}

// errSessionGone means a resumed upload session is unknown to Dropbox
// (expired after 7 days, or never existed): start a new one.
var errSessionGone = errors.New("upload session gone")

// Ledger Extra keys of a large upload in progress.
const (
	xSession     = "session"
	xOffset      = "offset"
	xSessionHash = "session_content_hash"
)

// large streams one file through start, append_v2 (the last with close)
// and finish, one chunk per request read straight from the file. The
// session and its confirmed offset are saved durably after every chunk, so
// a run killed halfway through a video resumes where it stopped.
func (r *runState) large(ctx context.Context, snap snapshot.Files, j job, rec ledger.Record, size int64, hash string, mode *files.WriteMode, cm *dropbox.DBXTime) (*files.FileMetadata, error) {
	f, err := snap.Open(j.e.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sid, off := "", int64(0)
	if rec.Extra[xSession] != "" && rec.Extra[xSessionHash] == hash {
		sid = rec.Extra[xSession]
		off, _ = strconv.ParseInt(rec.Extra[xOffset], 10, 64)
		r.im.log.Info("dropbox: resuming upload session", "path", j.e.Path, "offset", off, "size", size)
	}
	meta, err := r.session(ctx, f, j, rec, sid, off, size, hash, mode, cm)
	if errors.Is(err, errSessionGone) && sid != "" {
		meta, err = r.session(ctx, f, j, rec, "", 0, size, hash, mode, cm)
	}
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", j.e.Path, err)
	}
	return meta, nil
}

func (r *runState) saveSession(j job, rec ledger.Record, sid string, off int64, hash string) error {
	extra := map[string]string{}
	for k, v := range rec.Extra {
		extra[k] = v // keep "path" and "rev": they say whether the old file is ours
	}
	extra["content_hash"], extra[xSession], extra[xOffset], extra[xSessionHash] = hash, sid, strconv.FormatInt(off, 10), hash
	return r.led.PutNow(r.dest, j.e.Path, ledger.Record{SHA256: j.e.SHA256, Size: j.e.Size, RemoteID: rec.RemoteID, Extra: extra})
}

func lookupTag(err error) (string, uint64) {
	var ae files.UploadSessionAppendV2APIError
	if errors.As(err, &ae) && ae.EndpointError != nil {
		if ae.EndpointError.IncorrectOffset != nil {
			return ae.EndpointError.Tag, ae.EndpointError.IncorrectOffset.CorrectOffset
		}
		return ae.EndpointError.Tag, 0
	}
	return "", 0
}

// session uploads the file from off on. Each chunk carries its own
// content_hash, computed here by streaming (the SDK's automatic one buffers
// 4 MiB blocks), so Dropbox refuses a chunk damaged on the way.
func (r *runState) session(ctx context.Context, f io.ReaderAt, j job, rec ledger.Record, sid string, off, size int64, hash string, mode *files.WriteMode, cm *dropbox.DBXTime) (*files.FileMetadata, error) {
	im := r.im
	chunk := im.cfg.ChunkSize
	if sid == "" {
		first := min(chunk, size)
		err := im.call(ctx, "dropbox session start "+j.e.Path, func(ctx context.Context) error {
			ch, err := dropboxhash.Hex(io.NewSectionReader(f, 0, first))
			if err != nil {
				return retry.Permanent(err)
			}
			res, err := im.client.UploadSessionStartContext(ctx, &files.UploadSessionStartArg{Close: first == size, ContentHash: ch}, io.NewSectionReader(f, 0, first))
			if err != nil {
				return err
			}
			sid = res.SessionId
			return nil
		})
		if err != nil {
			return nil, err
		}
		off = first
		if err := r.saveSession(j, rec, sid, off, hash); err != nil {
			return nil, err
		}
	}
	for off < size {
		n := min(chunk, size-off)
		last := off+n == size
		o := off
		next := o + n
		err := im.call(ctx, "dropbox session append "+j.e.Path, func(ctx context.Context) error {
			ch, err := dropboxhash.Hex(io.NewSectionReader(f, o, n))
			if err != nil {
				return retry.Permanent(err)
			}
			err = im.client.UploadSessionAppendV2Context(ctx, &files.UploadSessionAppendArg{
				Cursor: &files.UploadSessionCursor{SessionId: sid, Offset: uint64(o)}, Close: last, ContentHash: ch,
			}, io.NewSectionReader(f, o, n))
			switch tag, correct := lookupTag(err); tag {
			case files.UploadSessionLookupErrorIncorrectOffset:
				// Dropbox holds more or less than we thought (an answer
				// lost, or a saved offset that lagged): carry on from
				// what it has.
				if int64(correct) <= size {
					next = int64(correct)
					return nil
				}
			case files.UploadSessionLookupErrorClosed:
				// Only the last chunk closes: everything is there.
				next = size
				return nil
			case files.UploadSessionLookupErrorNotFound:
				return retry.Permanent(errSessionGone)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("at offset %d: %w", o, err)
		}
		off = next
		if err := r.saveSession(j, rec, sid, off, hash); err != nil {
			return nil, err
		}
	}
	var meta *files.FileMetadata
	err := im.call(ctx, "dropbox session finish "+j.e.Path, func(ctx context.Context) error {
		m, err := im.client.UploadSessionFinishContext(ctx, &files.UploadSessionFinishArg{
			Cursor: &files.UploadSessionCursor{SessionId: sid, Offset: uint64(size)},
			Commit: commitInfo(j.remote, mode, cm),
		}, nil)
		var fe files.UploadSessionFinishAPIError
		if errors.As(err, &fe) && fe.EndpointError != nil && fe.EndpointError.LookupFailed != nil {
			switch fe.EndpointError.LookupFailed.Tag {
			case files.UploadSessionLookupErrorNotFound:
				// An earlier attempt may have committed it.
				if m2, ok := r.lookup(ctx, j.remote); ok && m2.ContentHash == hash {
					meta = m2
					return nil
				}
				return retry.Permanent(errSessionGone)
			case files.UploadSessionLookupErrorIncorrectOffset:
				return retry.Permanent(errSessionGone)
			}
		}
		if err != nil {
			return err
		}
		meta = m
		return nil
	})
	return meta, err
}

// keepAside moves the file at p to "<name> (kept by miexit <rev>)<ext>"
// so an upload can take its place without losing it.
func (r *runState) keepAside(ctx context.Context, p, rev string) (string, error) {
	ext := path.Ext(p)
	if strings.Contains(ext, "/") || ext == p {
		ext = ""
	}
	to := strings.TrimSuffix(p, ext) + " (kept by miexit " + rev + ")" + ext
	err := r.im.call(ctx, "dropbox move "+p, func(ctx context.Context) error {
		res, err := r.im.client.MoveV2Context(ctx, &files.RelocationArg{RelocationPath: files.RelocationPath{FromPath: p, ToPath: to}, Autorename: true})
		if err != nil {
			return err
		}
		if m, ok := res.Metadata.(*files.FileMetadata); ok {
			to = m.PathDisplay
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("keep the different file at %s: %w", p, err)
	}
	r.moved(r.rel(p))
	return to, nil
}

// lookup returns the file at p, if any.
func (r *runState) lookup(ctx context.Context, p string) (*files.FileMetadata, bool) {
	var meta *files.FileMetadata
	err := r.im.call(ctx, "dropbox get_metadata "+p, func(ctx context.Context) error {
		m, err := r.im.client.GetMetadataContext(ctx, &files.GetMetadataArg{Path: p})
		if err != nil {
			return err
		}
		meta, _ = m.(*files.FileMetadata)
		return nil
	})
	return meta, err == nil && meta != nil
}

// committer gathers closed sessions and commits them MaxBatch at a time
// with finish_batch_v2, one request for up to a thousand files.
func (r *runState) committer(ctx context.Context, in <-chan pending) error {
	batch := make([]pending, 0, r.im.cfg.BatchSize)
	for p := range in {
		batch = append(batch, p)
		if len(batch) == r.im.cfg.BatchSize {
			if err := r.commit(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 && ctx.Err() == nil {
		return r.commit(ctx, batch)
	}
	return ctx.Err()
}

// maxCommitRounds bounds the re-commits of entries Dropbox refused for a
// passing reason (too_many_write_operations).
const maxCommitRounds = 6

func (r *runState) commit(ctx context.Context, batch []pending) error {
	im := r.im
	todo := batch
	for round := 0; len(todo) > 0; round++ {
		args := make([]*files.UploadSessionFinishArg, len(todo))
		for i, p := range todo {
			args[i] = &files.UploadSessionFinishArg{
				Cursor: &files.UploadSessionCursor{SessionId: p.session, Offset: uint64(p.size)},
				Commit: commitInfo(p.remote, p.mode, p.cm),
			}
		}
		var res *files.UploadSessionFinishBatchResult
		err := im.call(ctx, fmt.Sprintf("dropbox commit %d files", len(todo)), func(ctx context.Context) error {
			var err error
			res, err = im.client.UploadSessionFinishBatchV2Context(ctx, &files.UploadSessionFinishBatchArg{Entries: args})
			return err
		})
		if err == nil && len(res.Entries) != len(todo) {
			err = fmt.Errorf("dropbox answered %d results for %d files", len(res.Entries), len(todo))
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, p := range todo {
				r.fail(p.job, fmt.Errorf("commit %s: %w", p.remote, err))
			}
			return nil
		}
		var again []pending
		for i, en := range res.Entries {
			p := todo[i]
			if en.Tag == "success" {
				if err := r.done(p.job, en.Success, p.hash); err != nil {
					return err
				}
				continue
			}
			f := en.Failure
			switch {
			case f == nil:
				r.fail(p.job, fmt.Errorf("commit %s: dropbox gave no reason", p.remote))
			case f.Tag == files.UploadSessionFinishErrorTooManyWriteOperations,
				f.Tag == files.UploadSessionFinishErrorTooManySharedFolderTargets:
				again = append(again, p)
			case f.Tag == files.UploadSessionFinishErrorLookupFailed && f.LookupFailed != nil &&
				f.LookupFailed.Tag == files.UploadSessionLookupErrorNotFound:
				// The session was consumed: by an earlier attempt of this
				// batch whose answer was lost, if the file is there.
				if m, ok := r.lookup(ctx, p.remote); ok && m.ContentHash == p.hash {
					if err := r.done(p.job, m, p.hash); err != nil {
						return err
					}
					continue
				}
				r.fail(p.job, fmt.Errorf("commit %s: upload session expired or unknown", p.remote))
			default:
				r.fail(p.job, fmt.Errorf("commit %s: dropbox refused it: %s", p.remote, finishReason(f)))
			}
		}
		if len(again) > 0 {
			if round+1 >= maxCommitRounds {
				for _, p := range again {
					r.fail(p.job, fmt.Errorf("commit %s: dropbox kept answering too_many_write_operations", p.remote))
				}
				return nil
			}
			// Every worker pauses, not only the committer: Dropbox's write
			// lock is per namespace.
			d := time.Second << round
			im.cfg.Retry.Pacer.PauseFor(d)
			if err := im.sleep(ctx, d); err != nil {
				return err
			}
		}
		todo = again
	}
	return nil
}

func finishReason(f *files.UploadSessionFinishError) string {
	s := f.Tag
	switch {
	case f.LookupFailed != nil:
		s += "/" + f.LookupFailed.Tag
	case f.Path != nil:
		s += "/" + f.Path.Tag
		if f.Path.Conflict != nil {
			s += "/" + f.Path.Conflict.Tag
		}
	}
	return s
}
