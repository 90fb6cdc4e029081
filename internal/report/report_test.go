package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"golang.org/x/net/html"

	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

const hostile = `<script>alert("x")</script>`

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// buildSnapshot writes a small snapshot: one named contact, a conversation
// with a hostile body, an emoji and an MMS picture, and a second sender.
func buildSnapshot(t *testing.T, pic []byte) *snapshot.Reader {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "4.0")
	card.SetValue(vcard.FieldFormattedName, "Alice Zhang")
	card.Add(vcard.FieldTelephone, &vcard.Field{Value: "+86 138 0013 8000"})
	if err := w.AddContact(ctx, mapping.Contact{Key: "c1", Card: card}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddFile(ctx, "messages/attachments/pic.png", bytes.NewReader(pic), time.Time{}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	msgs := []mapping.Message{
		{Key: "m1", Box: 1, Address: "13800138000", Date: t0, Body: hostile},
		{Key: "m2", Box: 2, Address: "138-0013-8000", Date: t0.Add(time.Minute), Body: "see you 🎉🇨🇳"},
		{Key: "m3", Type: "mms", Box: 1, Address: "+8613800138000", Date: t0.Add(2 * time.Minute),
			Parts: []mapping.Part{{Seq: 0, ContentType: "image/png", Name: "pic.png", File: "messages/attachments/pic.png"}, {Seq: 1, ContentType: "text/plain", Text: "a photo"}}},
		{Key: "m4", Box: 1, Address: "CMB", Date: t0.Add(-time.Hour), Body: "your code is 1234"},
	}
	for _, m := range msgs {
		if err := w.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func parseFile(t *testing.T, p string) *html.Node {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", p, err)
	}
	return doc
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func elements(doc *html.Node, tag string) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestConversationsGroupNameEscapeEmojiAndInlinePicture(t *testing.T) {
	pic := pngBytes(t)
	snap := buildSnapshot(t, pic)
	out := t.TempDir()
	if err := WriteConversations(context.Background(), snap, out); err != nil {
		t.Fatal(err)
	}
	idx := parseFile(t, filepath.Join(out, "index.html"))
	links := elements(idx, "a")
	if len(links) != 2 {
		t.Fatalf("index has %d conversations, want 2 (three spellings of one number grouped, plus CMB)", len(links))
	}
	// Most recent first: Alice's conversation.
	if got := text(links[0]); !strings.Contains(got, "Alice Zhang") {
		t.Errorf("first conversation titled %q, want the contact's name", got)
	}
	page := parseFile(t, filepath.Join(out, attr(links[0], "href")))
	if n := len(elements(page, "script")); n != 0 {
		t.Errorf("hostile body became %d <script> element(s)", n)
	}
	body := text(page)
	for _, want := range []string{hostile, "see you 🎉🇨🇳", "a photo", "Alice Zhang", "Me", "2024-03-01 09:30"} {
		if !strings.Contains(body, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	imgs := elements(page, "img")
	if len(imgs) != 1 {
		t.Fatalf("page has %d images, want 1", len(imgs))
	}
	if src := attr(imgs[0], "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Errorf("img src = %.40q, want an inline data: URI", src)
	}
	var charset bool
	for _, m := range elements(page, "meta") {
		charset = charset || strings.EqualFold(attr(m, "charset"), "utf-8")
	}
	if !charset {
		t.Error("page lacks <meta charset=utf-8>")
	}
	leftovers, _ := filepath.Glob(filepath.Join(out, ".miexit-tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func TestConversationsLinkPictureOverCap(t *testing.T) {
	old := MaxInlineImage
	MaxInlineImage = 10
	defer func() { MaxInlineImage = old }()
	snap := buildSnapshot(t, pngBytes(t))
	out := t.TempDir()
	if err := WriteConversations(context.Background(), snap, out); err != nil {
		t.Fatal(err)
	}
	idx := parseFile(t, filepath.Join(out, "index.html"))
	page := parseFile(t, filepath.Join(out, attr(elements(idx, "a")[0], "href")))
	if n := len(elements(page, "img")); n != 0 {
		t.Errorf("%d images inlined over the cap", n)
	}
	var href string
	for _, a := range elements(page, "a") {
		if strings.HasSuffix(attr(a, "href"), "pic.png") {
			href = attr(a, "href")
		}
	}
	if href == "" {
		t.Fatal("no link to the picture over the cap")
	}
	if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(href))); err != nil {
		t.Errorf("link %q does not reach the file: %v", href, err)
	}
}

func TestConversationsSVGIsNeverInlined(t *testing.T) {
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`)
	snap := buildSnapshot(t, svg)
	out := t.TempDir()
	if err := WriteConversations(context.Background(), snap, out); err != nil {
		t.Fatal(err)
	}
	idx := parseFile(t, filepath.Join(out, "index.html"))
	page := parseFile(t, filepath.Join(out, attr(elements(idx, "a")[0], "href")))
	if n := len(elements(page, "img")); n != 0 {
		t.Errorf("a file named .png holding SVG was inlined (%d img)", n)
	}
}

func cells(t *testing.T, doc *html.Node, tableID string) [][]string {
	t.Helper()
	var table *html.Node
	for _, n := range elements(doc, "table") {
		if attr(n, "id") == tableID {
			table = n
		}
	}
	if table == nil {
		return nil
	}
	var rows [][]string
	for _, tr := range elements(table, "tr") {
		var row []string
		for c := tr.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
				row = append(row, strings.TrimSpace(text(c)))
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func nextStep(t *testing.T, doc *html.Node) string {
	t.Helper()
	for _, p := range elements(doc, "p") {
		if attr(p, "id") == "next-step" {
			return text(p)
		}
	}
	t.Fatal("no next-step paragraph")
	return ""
}

func TestReportTableVerifyAndNextStep(t *testing.T) {
	c := NewCollector("import")
	for i := 0; i < 3; i++ {
		c.Report(progress.Event{Phase: "import", Kind: mapping.KindMedia, Item: "a.jpg", Action: progress.Copied})
	}
	c.Report(progress.Event{Phase: "import", Kind: mapping.KindMedia, Action: progress.Unchanged})
	c.Report(progress.Event{Phase: "import", Kind: mapping.KindMedia, Action: progress.Skipped, Err: "thumbnail only"})
	c.Report(progress.Event{Phase: "import", Kind: mapping.KindContact, Action: progress.Copied})
	c.Report(progress.Event{Phase: "export", Kind: mapping.KindContact, Action: progress.Failed}) // other phase
	found := mapping.Counts{Contacts: 1, Media: 5}
	res := verify.Result{Destination: "dir:/x", OK: true, Rows: []verify.Row{
		{Kind: mapping.KindContact, Source: 1, Destination: 1},
		{Kind: mapping.KindMedia, Source: 4, Destination: 4},
	}}

	tests := []struct {
		name     string
		verify   *verify.Result
		failed   bool
		wantSafe bool
		want     string
	}{
		{"verify ok and nothing failed is safe", &res, false, true, "safe to turn off"},
		{"no verify is not safe", nil, false, false, "verify has not run"},
		{"verify gaps are not safe", &verify.Result{Destination: "dir:/x", Rows: res.Rows, Problems: []verify.Problem{{Kind: mapping.KindMedia, Path: "media/<b>.jpg", Problem: "missing"}}}, false, false, "1 missing or different"},
		{"a failure is not safe", &res, true, false, "failed to copy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := NewCollector("import")
			for e := range events(c) {
				cc.Report(e)
			}
			if tt.failed {
				cc.Report(progress.Event{Phase: "import", Kind: mapping.KindMedia, Item: `<img src=x onerror=alert(1)>`, Action: progress.Failed, Err: "boom"})
			}
			in := Report{Source: "adb:X", Destination: "dir:/x", Rows: cc.Rows(&found), Failures: cc.Failures(), Verify: tt.verify}
			var b bytes.Buffer
			if err := WriteReport(&b, in); err != nil {
				t.Fatal(err)
			}
			doc, err := html.Parse(&b)
			if err != nil {
				t.Fatal(err)
			}
			next := nextStep(t, doc)
			if !strings.Contains(next, tt.want) {
				t.Errorf("next step = %q, want it to say %q", next, tt.want)
			}
			if safe, _ := NextStep(in); safe != tt.wantSafe || strings.Contains(next, "Not safe") == tt.wantSafe {
				t.Errorf("safe = %v, text %q; want safe %v", safe, next, tt.wantSafe)
			}
			sum := cells(t, doc, "summary")
			if len(sum) != 3 {
				t.Fatalf("summary rows = %v, want header + contact + media", sum)
			}
			media := sum[2]
			failed := "0"
			if tt.failed {
				failed = "1"
			}
			if media[0] != "media" || media[1] != "5" || media[2] != "3" || media[3] != "1" || !strings.HasPrefix(media[4], "1") || !strings.Contains(media[4], "thumbnail only") || media[5] != failed {
				t.Errorf("media row = %q", media)
			}
			if n := len(elements(doc, "img")) + len(elements(doc, "script")); n != 0 {
				t.Errorf("hostile item names became %d elements", n)
			}
			if tt.verify == nil {
				if cells(t, doc, "verify") != nil {
					t.Error("verify table shown without a verify")
				}
				return
			}
			v := cells(t, doc, "verify")
			if len(v) != 3 || v[2][0] != "media" || v[2][1] != "4" {
				t.Errorf("verify table = %v", v)
			}
			if len(tt.verify.Problems) > 0 {
				p := cells(t, doc, "problems")
				if len(p) != 2 || p[1][1] != "media/<b>.jpg" || p[1][2] != "missing" {
					t.Errorf("problems table = %v", p)
				}
			}
		})
	}
}

// events replays the events a collector saw, for building variants in
// table tests.
func events(c *Collector) func(func(progress.Event) bool) {
	return func(yield func(progress.Event) bool) {
		evs := []progress.Event{}
		for _, r := range c.Rows(nil) {
			for range r.Copied {
				evs = append(evs, progress.Event{Phase: "import", Kind: r.Kind, Action: progress.Copied})
			}
			for range r.Unchanged {
				evs = append(evs, progress.Event{Phase: "import", Kind: r.Kind, Action: progress.Unchanged})
			}
			for _, why := range r.Reasons {
				for range why.Count {
					evs = append(evs, progress.Event{Phase: "import", Kind: r.Kind, Action: progress.Skipped, Err: why.Reason})
				}
			}
		}
		for _, e := range evs {
			if !yield(e) {
				return
			}
		}
	}
}

func TestReportPicturesAreThumbnails(t *testing.T) {
	dir := t.TempDir()
	big := image.NewRGBA(image.Rect(0, 0, 640, 320))
	var b bytes.Buffer
	if err := png.Encode(&b, big); err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join(dir, "photo.png")
	junk := filepath.Join(dir, "junk.jpg")
	os.WriteFile(photo, b.Bytes(), 0o644)
	os.WriteFile(junk, []byte("not a picture"), 0o644)
	in := Report{Pictures: []Picture{
		{Title: "DCIM/photo.png", Note: "only a reduced copy on the phone", File: photo},
		{Title: "<b>junk.jpg</b>", Note: "failed", File: junk},
	}}
	var out bytes.Buffer
	if err := WriteReport(&out, in); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&out)
	if err != nil {
		t.Fatal(err)
	}
	imgs := elements(doc, "img")
	if len(imgs) != 1 {
		t.Fatalf("%d images, want 1 (the unreadable one shows its caption only)", len(imgs))
	}
	src := attr(imgs[0], "src")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/jpeg;base64,"))
	if err != nil || !strings.HasPrefix(src, "data:image/jpeg;base64,") {
		t.Fatalf("img src %.40q is not a JPEG data: URI", src)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(raw))
	if err != nil || cfg.Width != ThumbSize || cfg.Height != ThumbSize/2 {
		t.Errorf("thumbnail %dx%d (%v), want %dx%d", cfg.Width, cfg.Height, err, ThumbSize, ThumbSize/2)
	}
	caps := elements(doc, "figcaption")
	if len(caps) != 2 || text(caps[1]) != "<b>junk.jpg</b> — failed" {
		t.Errorf("captions = %d, second %q", len(caps), text(caps[len(caps)-1]))
	}
}

func TestConversationsAttachmentOutsideSnapshotIsNeitherReadNorLinked(t *testing.T) {
	snap := buildSnapshot(t, pngBytes(t))
	secret := filepath.Join(filepath.Dir(snap.Dir()), "secret.png")
	if err := os.WriteFile(secret, pngBytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	line := `{"key":"evil","type":"mms","box":1,"address":"5","date":"2024-01-01T00:00:00Z","parts":[{"seq":0,"ct":"image/png","name":"x.png","file":"../secret.png"}]}` + "\n"
	if err := os.WriteFile(filepath.Join(snap.Dir(), snapshot.MessagesPath), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := WriteConversations(context.Background(), snap, out); err != nil {
		t.Fatal(err)
	}
	idx := parseFile(t, filepath.Join(out, "index.html"))
	page := parseFile(t, filepath.Join(out, attr(elements(idx, "a")[0], "href")))
	if n := len(elements(page, "img")); n != 0 {
		t.Errorf("a file outside the snapshot was inlined")
	}
	for _, a := range elements(page, "a") {
		if strings.Contains(attr(a, "href"), "secret") {
			t.Errorf("page links outside the snapshot: %q", attr(a, "href"))
		}
	}
}

func TestConversationsAreNotRewrittenFromTheSameManifest(t *testing.T) {
	snap := buildSnapshot(t, pngBytes(t))
	out := t.TempDir()
	ctx := context.Background()
	if err := WriteConversations(ctx, snap, out); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(out, "index.html")
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(idx, old, old)
	if err := WriteConversations(ctx, snap, out); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(idx); !st.ModTime().Equal(old) {
		t.Fatal("pages were rendered again from an unchanged manifest")
	}
	// A new export (a new manifest) renders them again.
	mp := filepath.Join(snap.Dir(), "manifest.json")
	now := time.Now()
	os.Chtimes(mp, now, now)
	if err := WriteConversations(ctx, snap, out); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(idx); st.ModTime().Equal(old) {
		t.Fatal("pages were not rendered for a new manifest")
	}
}
