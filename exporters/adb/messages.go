package adb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/miexit/miexit/exporters/adb/provider"
	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

const (
	smsURI     = "content://sms"
	mmsURI     = "content://mms"
	mmsPartURI = "content://mms/part"
	callsURI   = "content://call_log/calls"
)

var (
	// hex() makes free text unambiguous where the provider allows it.
	smsHexCols = []string{"_id", "thread_id", "date", "date_sent", "type", "read", "status", "locked", "sub_id",
		"hex(address)", "hex(subject)", "hex(service_center)", "hex(body)"}
	// Without hex(): numbers first, the body last.
	smsTextCols = []string{"_id", "thread_id", "date", "date_sent", "type", "read", "status", "locked", "sub_id",
		"address", "subject", "service_center", "body"}
	mmsCols     = []string{"_id", "thread_id", "date", "date_sent", "msg_box", "read", "m_type", "sub_id", "locked", "hex(sub)"}
	mmsPartCols = []string{"_id", "mid", "seq", "chset", "hex(ct)", "hex(name)", "hex(cid)", "hex(cl)", "hex(text)", "hex(_data)"}
	mmsAddrCols = []string{"_id", "msg_id", "type", "charset", "hex(address)"}
	callCols    = []string{"_id", "date", "duration", "type", "subscription_id", "number", "name"}
)

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func millis(s string) time.Time {
	n := atoi64(s)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// hexRefused reports a provider rejecting SQL functions in projections.
func hexRefused(err error) bool {
	var pe *provider.Error
	return errors.As(err, &pe) && !pe.Denied
}

func (e *Exporter) countMessages(ctx context.Context) (int, error) {
	n, err := e.count(ctx, smsURI, "")
	if err != nil {
		return 0, err
	}
	m, err := e.count(ctx, mmsURI, "")
	return n + m, err
}

func (e *Exporter) exportSMS(ctx context.Context, w *snapshot.Writer) error {
	cols := smsHexCols
	adder := newMessageAdder(ctx, w)
	defer adder.wait()
	add := func(r provider.Row) error {
		v := func(c string) string { return r.Get(cols, c) }
		get := func(c string) string {
			if x := v("hex(" + c + ")"); x != "" {
				return x
			}
			return v(c)
		}
		m := mapping.Message{
			Type:          "sms",
			Box:           atoi(v("type")),
			Address:       get("address"),
			Date:          millis(v("date")),
			DateSent:      millis(v("date_sent")),
			Read:          v("read") == "1",
			Subject:       get("subject"),
			Body:          get("body"),
			ServiceCenter: get("service_center"),
			Status:        atoi(v("status")),
			Locked:        v("locked") == "1",
			SubID:         atoi(v("sub_id")),
			ThreadID:      atoi64(v("thread_id")),
		}
		if m.Status == -1 {
			m.Status = 0
		}
		p, err := snapshot.PrepareMessage(m)
		if err == nil {
			err = adder.add(p)
		}
		if err != nil {
			return fmt.Errorf("sms %d: %w", r.ID, err)
		}
		return nil
	}
	err := e.query(ctx, provider.Query{URI: smsURI, Columns: cols}, add)
	if err != nil && hexRefused(err) {
		e.log.Info("the SMS provider refuses hex() projections; reading plain text with checks", "err", err)
		cols = smsTextCols
		err = e.query(ctx, provider.Query{URI: smsURI, Columns: cols}, add)
	}
	if werr := adder.wait(); err == nil && werr != nil {
		err = fmt.Errorf("sms: %w", werr)
	}
	return err
}

type mmsPart struct {
	id   int64
	part mapping.Part
	data bool // bytes stored in a file on the phone
}

func (e *Exporter) exportMMS(ctx context.Context, w *snapshot.Writer) error {
	// Parts of all messages, gathered by message: only their metadata and
	// text are held, attachment bytes stream later.
	parts := map[int64][]mmsPart{}
	err := e.query(ctx, provider.Query{URI: mmsPartURI, Columns: mmsPartCols}, func(r provider.Row) error {
		g := func(c string) string { return r.Get(mmsPartCols, c) }
		mid := atoi64(g("mid"))
		p := mmsPart{id: r.ID, data: g("hex(_data)") != "", part: mapping.Part{
			Seq: atoi(g("seq")), ContentType: g("hex(ct)"), Name: g("hex(name)"), Charset: atoi(g("chset")),
			ContentID: g("hex(cid)"), ContentLocation: g("hex(cl)"), Text: g("hex(text)"),
		}}
		parts[mid] = append(parts[mid], p)
		return nil
	})
	if err != nil {
		return err
	}
	// Message headers are few and small; gather them so addresses and
	// attachments (one Java process each on the phone) can be fetched
	// several at a time, then add the messages in order.
	var jobs []*mmsJob
	err = e.query(ctx, provider.Query{URI: mmsURI, Columns: mmsCols}, func(r provider.Row) error {
		g := func(c string) string { return r.Get(mmsCols, c) }
		m := mapping.Message{
			Type:     "mms",
			Box:      atoi(g("msg_box")),
			Date:     time.Unix(atoi64(g("date")), 0).UTC(), // MMS dates are seconds
			Read:     g("read") == "1",
			Subject:  g("hex(sub)"),
			Locked:   g("locked") == "1",
			SubID:    atoi(g("sub_id")),
			ThreadID: atoi64(g("thread_id")),
		}
		if ds := atoi64(g("date_sent")); ds > 0 {
			m.DateSent = time.Unix(ds, 0).UTC()
		}
		jobs = append(jobs, &mmsJob{id: r.ID, m: m, parts: parts[r.ID], done: make(chan struct{})})
		return nil
	})
	if err != nil {
		return err
	}
	return e.addMMS(ctx, w, jobs)
}

// mmsJob is one MMS being completed: addresses and attachment bytes
// spooled to temp files.
type mmsJob struct {
	id     int64
	m      mapping.Message
	parts  []mmsPart
	spools map[int]*os.File // by index in parts
	err    error
	done   chan struct{}
}

func (j *mmsJob) cleanup() {
	for _, f := range j.spools {
		f.Close()
		os.Remove(f.Name())
	}
	j.spools = nil
}

func isAttachment(p mmsPart) bool {
	return p.data && p.part.Text == "" && p.part.ContentType != "application/smil"
}

// fetch reads a message's addresses and attachments from the phone.
func (e *Exporter) fetch(ctx context.Context, j *mmsJob) error {
	addrURI := "content://mms/" + strconv.FormatInt(j.id, 10) + "/addr"
	if err := e.query(ctx, provider.Query{URI: addrURI, Columns: mmsAddrCols}, func(a provider.Row) error {
		j.m.Addrs = append(j.m.Addrs, mapping.Addr{Address: a.Get(mmsAddrCols, "hex(address)"), Type: atoi(a.Get(mmsAddrCols, "type")), Charset: atoi(a.Get(mmsAddrCols, "charset"))})
		return nil
	}); err != nil {
		return err
	}
	j.m.Address = mmsAddress(j.m.Box, j.m.Addrs)
	for i, p := range j.parts {
		if !isAttachment(p) {
			continue
		}
		f, err := os.CreateTemp("", "miexit-mms-*")
		if err != nil {
			return err
		}
		if j.spools == nil {
			j.spools = map[int]*os.File{}
		}
		j.spools[i] = f
		if err := e.readPart(ctx, p.id, f); err != nil {
			return fmt.Errorf("mms %d part %d: %w", j.id, p.id, err)
		}
	}
	return nil
}

func (e *Exporter) addMMS(ctx context.Context, w *snapshot.Writer, jobs []*mmsJob) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, e.opt.PhoneJobs)
	window := 4 * e.opt.PhoneJobs
	launched := 0
	defer func() {
		cancel()
		for _, j := range jobs[:launched] {
			<-j.done
			j.cleanup()
		}
	}()
	for i, j := range jobs {
		for ; launched < len(jobs) && launched < i+window; launched++ {
			lj := jobs[launched]
			go func() {
				defer close(lj.done)
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					lj.err = ctx.Err()
					return
				}
				defer func() { <-sem }()
				lj.err = e.fetch(ctx, lj)
			}()
		}
		<-j.done
		if j.err != nil {
			return j.err
		}
		for k, p := range j.parts {
			if f := j.spools[k]; f != nil {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
				rel := path.Join(snapshot.AttachmentsDir, "mms-"+strconv.FormatInt(j.id, 10), attachmentName(p))
				ent, err := w.AddFile(ctx, rel, f, j.m.Date)
				if err != nil {
					return fmt.Errorf("mms %d part %d: %w", j.id, p.id, err)
				}
				p.part.File, p.part.Size, p.part.SHA256 = ent.Path, ent.Size, ent.SHA256
			}
			j.m.Parts = append(j.m.Parts, p.part)
		}
		j.cleanup()
		if err := w.AddMessage(ctx, j.m); err != nil {
			return fmt.Errorf("mms %d: %w", j.id, err)
		}
	}
	return nil
}

// mmsAddress is the other party: the sender of a received message, the
// first recipient of a sent one.
func mmsAddress(box int, addrs []mapping.Addr) string {
	want := 151
	if box == 1 {
		want = 137
	}
	for _, a := range addrs {
		if a.Type == want && a.Address != "insert-address-token" {
			return a.Address
		}
	}
	for _, a := range addrs {
		if a.Type != 137 {
			return a.Address
		}
	}
	return ""
}

// attachmentName is a safe file name for a part: its id, then its own
// name when it has one.
func attachmentName(p mmsPart) string {
	name := p.part.Name
	if name == "" {
		name = p.part.ContentLocation
	}
	name = snapshot.SafeName(path.Base(strings.ReplaceAll(name, "\\", "/")), "")
	if name == "" || name == "." || name == "/" {
		name = "part"
	}
	return strconv.FormatInt(p.id, 10) + "-" + name
}

// readPart streams an attachment's bytes with `content read` (binary-safe
// over shell v2 or exec:) into dst.
func (e *Exporter) readPart(ctx context.Context, id int64, dst io.Writer) error {
	uri := mmsPartURI + "/" + strconv.FormatInt(id, 10)
	p, err := e.dev.Start(ctx, adb.Command("content", "read", "--uri", uri))
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := io.Copy(dst, p); err != nil {
		return err
	}
	if perr := provider.CheckError(uri, p.Stderr()); perr != nil {
		return wrapProvider(perr)
	}
	return nil
}

func (e *Exporter) countCalls(ctx context.Context) (int, error) {
	return e.count(ctx, callsURI, "")
}

func (e *Exporter) exportCalls(ctx context.Context, w *snapshot.Writer) error {
	return e.query(ctx, provider.Query{URI: callsURI, Columns: callCols}, func(r provider.Row) error {
		g := func(c string) string { return r.Get(callCols, c) }
		c := mapping.Call{
			Number:   g("number"),
			Date:     millis(g("date")),
			Duration: atoi64(g("duration")),
			Type:     atoi(g("type")),
			Name:     g("name"),
			SubID:    atoi(g("subscription_id")),
		}
		if err := w.AddCall(ctx, c); err != nil {
			return fmt.Errorf("call %d: %w", r.ID, err)
		}
		return nil
	})
}
