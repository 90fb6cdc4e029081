// Package report writes what people look at after a run: a readable copy
// of their messages (one HTML page per conversation) and report.html with
// the per-kind table, the verify result and the next step.
package report

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// MaxInlineImage caps one picture embedded as a data: URI; larger ones are
// linked to their file in the snapshot so a page stays openable.
// A variable so tests can lower it.
var MaxInlineImage int64 = 5 << 20

// inlineTypes are the picture types embedded; anything else (SVG can carry
// script) is linked, never inlined.
var inlineTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true, "image/bmp": true}

// conv is what is held per conversation while pages are written: the
// spool offsets and dates of its messages, not the messages themselves.
type conv struct {
	key   string // normalized address(es)
	label string // as first seen, for display
	msgs  []msgRef
	last  time.Time
}

type msgRef struct {
	date int64 // unix nanoseconds, for ordering
	off  int64 // offset of the message's JSON line in the spool
}

// WriteConversations writes one self-contained HTML page per conversation
// of snap's messages into outDir, and outDir/index.html listing them.
//
// Memory: messages are streamed once into a temporary spool file in outDir;
// only an index (date and offset per message, 16 bytes) and the contacts'
// address-to-name map are held. Each page is then written message by
// message from the spool. Pictures are read from the snapshot one at a time.
func WriteConversations(ctx context.Context, snap *snapshot.Reader, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("conversations %s: %w", outDir, err)
	}
	stamp := pagesStamp(snap)
	stampPath := filepath.Join(outDir, stampFile)
	if b, err := os.ReadFile(stampPath); err == nil && stamp != "" && string(b) == stamp {
		// Written from this very manifest already: an unchanged re-run
		// must not spend seconds re-rendering 100,000 messages.
		return nil
	}
	names, err := contactNames(snap)
	if err != nil {
		return err
	}
	spool, err := os.CreateTemp(outDir, fsutil.TempPrefix+"messages-*")
	if err != nil {
		return fmt.Errorf("conversations %s: %w", outDir, err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()

	convs := map[string]*conv{}
	// byTail merges spellings of one number ("+86 138…", "138…") as a
	// phone does: numbers whose last 8 digits agree share a conversation.
	byTail := map[string]string{}
	bw := bufio.NewWriterSize(spool, 64<<10)
	var off int64
	for m, err := range snap.Messages() {
		if err != nil {
			return fmt.Errorf("conversations: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		key, label := conversationKey(&m)
		if t := digitsTail(key); t != "" {
			if k, ok := byTail[t]; ok {
				key = k
			} else {
				byTail[t] = key
			}
		}
		c := convs[key]
		if c == nil {
			c = &conv{key: key, label: label}
			convs[key] = c
		}
		line, err := json.Marshal(&m)
		if err != nil {
			return fmt.Errorf("conversations: message %s: %w", m.Key, err)
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("conversations spool: %w", err)
		}
		c.msgs = append(c.msgs, msgRef{date: m.Date.UnixNano(), off: off})
		if m.Date.After(c.last) {
			c.last = m.Date
		}
		off += int64(len(line))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("conversations spool: %w", err)
	}

	list := make([]*conv, 0, len(convs))
	for _, c := range convs {
		list = append(list, c)
	}
	// Most recent conversation first, as a phone shows them.
	slices.SortFunc(list, func(a, b *conv) int {
		if c := b.last.Compare(a.last); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})

	var index []indexRow
	for _, c := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := names.lookup(c.key)
		title := c.label
		if name != "" {
			title = name + " (" + c.label + ")"
		}
		file := pageName(c.key)
		if err := writePage(ctx, snap, outDir, file, title, name, c, spool); err != nil {
			return err
		}
		index = append(index, indexRow{File: file, Title: title, Count: len(c.msgs), Last: fmtTime(c.last)})
	}
	err = writeFileAtomic(filepath.Join(outDir, "index.html"), func(w io.Writer) error {
		return indexTmpl.Execute(w, map[string]any{"Source": snap.Source(), "Rows": index})
	})
	if err != nil || stamp == "" {
		return err
	}
	return fsutil.WriteFile(stampPath, []byte(stamp), false)
}

// stampFile records which manifest the pages were written from; written
// last, so pages cut short by a kill are written again.
const stampFile = ".miexit-pages"

// pagesStamp identifies the snapshot's manifest: a new export rewrites it
// (new mtime), a reused snapshot leaves it as it was.
func pagesStamp(snap *snapshot.Reader) string {
	st, err := os.Stat(filepath.Join(snap.Dir(), snapshot.ManifestPath))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("pages-1 %d %d\n", st.Size(), st.ModTime().UnixNano())
}

// conversationKey groups a message: its normalized address, or for an MMS
// without one the sorted normalized addresses of its participants.
func conversationKey(m *mapping.Message) (key, label string) {
	if a := strings.TrimSpace(m.Address); a != "" {
		return mapping.NormalizeAddress(a), a
	}
	var ks, ls []string
	for _, a := range m.Addrs {
		if n := mapping.NormalizeAddress(a.Address); n != "" && !slices.Contains(ks, n) {
			ks = append(ks, n)
			ls = append(ls, a.Address)
		}
	}
	slices.Sort(ks)
	if len(ks) == 0 {
		return "(no address)", "(no address)"
	}
	return strings.Join(ks, ", "), strings.Join(ls, ", ")
}

// pageName is stable across runs and safe as a file name whatever the
// address holds.
func pageName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "conversation-" + hex.EncodeToString(sum[:6]) + ".html"
}

type indexRow struct {
	File, Title, Last string
	Count             int
}

type pageMsg struct {
	Sent    bool
	From    string
	Date    string
	Subject string
	Body    string
	Images  []pageImage
	Files   []pageLink
}

type pageImage struct {
	Src template.URL
	Alt string
}

type pageLink struct {
	Href template.URL
	Name string
}

func writePage(ctx context.Context, snap *snapshot.Reader, outDir, file, title, name string, c *conv, spool *os.File) error {
	slices.SortStableFunc(c.msgs, func(a, b msgRef) int { return cmp.Compare(a.date, b.date) })
	return writeFileAtomic(filepath.Join(outDir, file), func(w io.Writer) error {
		if err := pageHead.Execute(w, map[string]any{"Title": title, "Count": len(c.msgs)}); err != nil {
			return err
		}
		br := bufio.NewReader(io.NewSectionReader(spool, 0, 1<<62))
		for _, ref := range c.msgs {
			if err := ctx.Err(); err != nil {
				return err
			}
			sr := io.NewSectionReader(spool, ref.off, 1<<62)
			br.Reset(sr)
			line, err := br.ReadBytes('\n')
			if err != nil {
				return fmt.Errorf("conversations spool: %w", err)
			}
			var m mapping.Message
			if err := json.Unmarshal(line, &m); err != nil {
				return fmt.Errorf("conversations spool: %w", err)
			}
			pm, err := pageMessage(snap, outDir, &m, name)
			if err != nil {
				return err
			}
			if err := pageMsgTmpl.Execute(w, pm); err != nil {
				return err
			}
		}
		return pageFoot.Execute(w, nil)
	})
}

// sentBox reports whether Android's box value means the phone's owner wrote
// the message (sent, outbox, failed, queued; drafts too).
func sentBox(box int) bool { return box >= 2 && box <= 6 }

func pageMessage(snap *snapshot.Reader, outDir string, m *mapping.Message, name string) (pageMsg, error) {
	pm := pageMsg{Sent: sentBox(m.Box), Date: fmtTime(m.Date), Subject: m.Subject, Body: m.Body}
	switch {
	case pm.Sent:
		pm.From = "Me"
	case name != "":
		pm.From = name
	default:
		pm.From = m.Address
	}
	var texts []string
	if m.Body != "" {
		texts = append(texts, m.Body)
	}
	for _, p := range m.Parts {
		ct := strings.ToLower(strings.TrimSpace(strings.SplitN(p.ContentType, ";", 2)[0]))
		switch {
		case p.File == "" && p.Text != "" && ct != "application/smil":
			if p.Text != m.Body {
				texts = append(texts, p.Text)
			}
		case p.File == "":
		case strings.HasPrefix(ct, "image/"):
			img, link, err := picture(snap, outDir, p)
			if err != nil {
				return pm, fmt.Errorf("message %s: %w", m.Key, err)
			}
			if img != nil {
				pm.Images = append(pm.Images, *img)
			} else {
				pm.Files = append(pm.Files, link)
			}
		default:
			pm.Files = append(pm.Files, fileLink(snap, outDir, p))
		}
	}
	pm.Body = strings.Join(texts, "\n")
	return pm, nil
}

// picture inlines an MMS picture as a data: URI when it is a raster image
// (checked from its bytes, not its declared type) within MaxInlineImage;
// otherwise it returns a link to the file in the snapshot. A missing
// attachment is a link too: the page still shows the rest.
func picture(snap *snapshot.Reader, outDir string, p mapping.Part) (*pageImage, pageLink, error) {
	link := fileLink(snap, outDir, p)
	f, err := snap.Open(p.File)
	if err != nil {
		return nil, link, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() > MaxInlineImage || st.Size() == 0 {
		return nil, link, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxInlineImage+1))
	if err != nil {
		return nil, link, fmt.Errorf("read %s: %w", p.File, err)
	}
	if int64(len(data)) > MaxInlineImage {
		return nil, link, nil
	}
	ct := http.DetectContentType(data)
	if !inlineTypes[ct] {
		return nil, link, nil
	}
	// The URI is built here from a fixed type and base64 only, so marking
	// it safe for html/template cannot let markup through.
	src := "data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(data)
	return &pageImage{Src: template.URL(src), Alt: cmp.Or(p.Name, filepath.Base(p.File))}, link, nil
}

// fileLink points from outDir to the attachment inside the snapshot.
func fileLink(snap *snapshot.Reader, outDir string, p mapping.Part) pageLink {
	name := cmp.Or(p.Name, filepath.Base(p.File))
	abs, err := snap.Path(p.File)
	if err != nil {
		return pageLink{Name: name}
	}
	rel, err := filepath.Rel(outDir, abs)
	if err != nil {
		rel = abs
	}
	u := url.URL{Path: filepath.ToSlash(rel)}
	return pageLink{Href: template.URL(u.EscapedPath()), Name: name}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04")
}

// names maps normalized addresses to contact names.
type names struct {
	exact map[string]string
	// tail maps the last 8 digits of a number to a name, or "" when two
	// contacts share them; it matches "+86 138…" against "138…".
	tail map[string]string
}

const tailDigits = 8

func (n names) lookup(key string) string {
	if v := n.exact[key]; v != "" {
		return v
	}
	if t := digitsTail(key); t != "" {
		return n.tail[t]
	}
	return ""
}

func digitsTail(a string) string {
	a = strings.TrimPrefix(a, "+")
	if len(a) < tailDigits {
		return ""
	}
	for _, r := range a {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return a[len(a)-tailDigits:]
}

func contactNames(snap *snapshot.Reader) (names, error) {
	n := names{exact: map[string]string{}, tail: map[string]string{}}
	for c, err := range snap.Contacts() {
		if err != nil {
			return n, fmt.Errorf("conversations: contacts: %w", err)
		}
		name := ""
		if f := c.Card.Get("FN"); f != nil {
			name = strings.TrimSpace(f.Value)
		}
		if name == "" {
			continue
		}
		for _, field := range append(c.Card["TEL"], c.Card["EMAIL"]...) {
			v := strings.TrimPrefix(field.Value, "tel:")
			a := mapping.NormalizeAddress(v)
			if a == "" {
				continue
			}
			if _, ok := n.exact[a]; !ok {
				n.exact[a] = name
			}
			if t := digitsTail(a); t != "" {
				if old, ok := n.tail[t]; ok && old != name {
					n.tail[t] = ""
				} else {
					n.tail[t] = name
				}
			}
		}
	}
	return n, nil
}

// writeFileAtomic writes dst through a temporary file so an interrupted run
// never leaves a half page.
func writeFileAtomic(dst string, fill func(io.Writer) error) error {
	f, err := fsutil.CreateTemp(dst)
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := fill(bw); err != nil {
		fsutil.Abort(f)
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := bw.Flush(); err != nil {
		fsutil.Abort(f)
		return fmt.Errorf("write %s: %w", dst, err)
	}
	// No fsync per page: the pages are a copy that a re-run rewrites.
	if err := fsutil.Commit(f, dst, false); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}
