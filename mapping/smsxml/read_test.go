package smsxml

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/miexit/miexit/mapping"
)

func part(seq int, ct, name string, data []byte) mapping.Part {
	p := mapping.Part{Seq: seq, ContentType: ct, Name: name}
	if data != nil {
		s := sha256.Sum256(data)
		p.Size, p.SHA256 = int64(len(data)), hex.EncodeToString(s[:])
	}
	return p
}

// document writes messages (or calls) with the package's writer.
func document(t testing.TB, msgs []mapping.Message, calls []mapping.Call, files map[string][]byte) string {
	t.Helper()
	var body bytes.Buffer
	bw := NewBodyWriter(&body)
	open := func(rel string) (io.ReadCloser, error) {
		b, ok := files[rel]
		if !ok {
			return nil, fmt.Errorf("no file %s", rel)
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	for i := range msgs {
		if err := bw.Message(&msgs[i], open); err != nil {
			t.Fatal(err)
		}
	}
	for i := range calls {
		if err := bw.Call(&calls[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if calls != nil {
		return CallsHeader(len(calls)) + body.String() + CallsFooter
	}
	return SMSHeader(len(msgs)) + body.String() + SMSFooter
}

func TestRoundTrip(t *testing.T) {
	d := time.Date(2024, 5, 1, 10, 15, 0, 123e6, time.UTC)
	png := []byte("\x89PNG\r\n\x1a\nfake image bytes")
	vcf := []byte("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:A\r\nEND:VCARD\r\n")
	msgs := []mapping.Message{
		{Type: "sms", Box: 1, Address: "+8613800138000", Date: d, DateSent: d.Add(-time.Second), Read: true,
			Body: "emoji 😎 and 中文, \"quotes\" & <tags>\nsecond line\ttab 'apos'", ServiceCenter: "+8613800100500",
			Status: 64, SubID: 1, ContactName: "王小明"},
		{Type: "sms", Box: 2, Address: "10086", Date: d.Add(time.Minute), Body: "null", Locked: true},
		{Type: "mms", Box: 2, Address: "+1555~+1666", Date: d.Add(2 * time.Minute), DateSent: d.Truncate(time.Second),
			Subject: "pics", Read: true, ContactName: "A, B",
			Parts: []mapping.Part{
				{Seq: -1, ContentType: "application/smil", Text: `<smil><body><par dur="5000ms"><img src="a.png"/></par></body></smil>`, ContentID: "<smil>", ContentLocation: "smil.xml"},
				{Seq: 0, ContentType: "text/plain", Charset: 106, Text: "look 🦥", ContentLocation: "text0.txt"},
				part(0, "image/png", "a.png", png),
				part(1, "text/x-vCard", "", vcf),
			},
			Addrs: []mapping.Addr{{Address: "+1444", Type: 137, Charset: 106}, {Address: "+1555", Type: 151, Charset: 106}},
		},
	}
	files := map[string][]byte{}
	for i := range msgs {
		msgs[i].Key = mapping.MessageKey(&msgs[i])
		for j := range msgs[i].Parts {
			p := &msgs[i].Parts[j]
			if p.Size > 0 {
				p.File = AttachmentPath(&msgs[i], p)
				if p.ContentType == "image/png" {
					files[p.File] = png
				} else {
					files[p.File] = vcf
				}
			}
		}
	}
	doc := document(t, msgs, nil, files)

	stored := map[string][]byte{}
	r := &Reader{Name: "sms.xml", Attachment: func(m *mapping.Message, p *mapping.Part, data io.Reader) error {
		b, err := io.ReadAll(data)
		p.File = AttachmentPath(m, p)
		stored[p.File] = b
		return err
	}}
	var got []mapping.Message
	for m, err := range r.Messages(strings.NewReader(doc)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != len(msgs) {
		t.Fatalf("read %d messages, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if !reflect.DeepEqual(got[i], msgs[i]) {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, got[i], msgs[i])
		}
	}
	if !reflect.DeepEqual(stored, files) {
		t.Errorf("attachments differ: got %d files", len(stored))
	}

	calls := []mapping.Call{
		{Number: "+8613800138000", Date: d, Duration: 72, Type: 1, Name: "王小明", SubID: 2},
		{Number: "", Date: d.Add(time.Hour), Type: 3},
	}
	for i := range calls {
		calls[i].Key = mapping.CallKey(&calls[i])
	}
	var gotCalls []mapping.Call
	for c, err := range (&Reader{Name: "calls.xml"}).Calls(strings.NewReader(document(t, nil, calls, nil))) {
		if err != nil {
			t.Fatal(err)
		}
		gotCalls = append(gotCalls, c)
	}
	if !reflect.DeepEqual(gotCalls, calls) {
		t.Errorf("calls:\n got %+v\nwant %+v", gotCalls, calls)
	}
}

// appDoc is written as the app writes it (facts from corpus/sms/SOURCES.md):
// "null" values, &#10; newlines, &apos;, surrogate pairs for emoji,
// "(Unknown)" contact names.
const appDoc = `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<!--File Created By SMS Backup & Restore v10.20.002 on 01/05/2024 10:15:00-->
<?xml-stylesheet type="text/xsl" href="sms.xsl"?>
<smses count="2" backup_set="0b0c" backup_date="1714558500000" type="full">
  <sms protocol="0" address="+18885554321" date="1696889179789" type="1" subject="null" body="That&apos;s it&#10;bye &#55357;&#56846;&#xD83E;&#xDDA5; &#55357;x" toa="null" sc_toa="null" service_center="+14054720055" read="1" status="-1" locked="0" date_sent="1696889176000" sub_id="1" readable_date="Oct 9, 2023 15:06:19" contact_name="(Unknown)" />
  <mms date="1696900308000" rr="129" sub="null" ct_t="application/vnd.wap.multipart.related" msg_box="2" address="+18885551234~18885554321" m_type="128" read="1" date_sent="0" sub_id="1" contact_name="Joe Blow, Susie Glow">
    <parts>
      <part seq="-1" ct="application/smil" name="null" chset="null" cd="null" fn="null" cid="&lt;smil&gt;" cl="smil.xml" ctt_s="null" ctt_t="null" text="&lt;smil&gt;&lt;/smil&gt;" />
      <part seq="0" ct="text/plain" name="null" chset="106" cd="null" fn="null" cid="&lt;text000002&gt;" cl="text000002.txt" ctt_s="null" ctt_t="null" text="This is a sloth." />
      <part seq="0" ct="image/png" name="null" chset="null" cd="null" fn="null" cid="&lt;Sloth&gt;" cl="Sloth in bowl" ctt_s="null" ctt_t="null" text="null" data="iVBORw0K&#10;GgoA" />
    </parts>
    <addrs>
      <addr address="+441234567890" type="137" charset="106" />
      <addr address="+18885551234" type="151" charset="106" />
    </addrs>
  </mms>
</smses>
`

func TestReadsAppDocument(t *testing.T) {
	var got []mapping.Message
	// One byte at a time: a surrogate pair split across reads still joins.
	for m, err := range (&Reader{Name: "sms.xml"}).Messages(iotest.OneByteReader(strings.NewReader(appDoc))) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("read %d messages, want 2", len(got))
	}
	s := got[0]
	if want := "That's it\nbye 😎🦥 \uFFFDx"; s.Body != want {
		t.Errorf("body %q, want %q", s.Body, want)
	}
	if s.Subject != "" || s.ContactName != "" || s.Status != 0 || s.Box != 1 || !s.Read {
		t.Errorf("sms fields: %+v", s)
	}
	if want := time.UnixMilli(1696889179789).UTC(); !s.Date.Equal(want) {
		t.Errorf("date %v, want %v", s.Date, want)
	}
	m := got[1]
	if m.Type != "mms" || len(m.Parts) != 3 || len(m.Addrs) != 2 || m.Box != 2 || !m.DateSent.IsZero() {
		t.Fatalf("mms: %+v", m)
	}
	img := m.Parts[2]
	if img.Name != "" || img.ContentLocation != "Sloth in bowl" || img.Size != 9 || img.Text != "" {
		t.Errorf("image part: %+v", img)
	}
	if m.Parts[0].ContentID != "<smil>" || m.Parts[1].Charset != 106 || m.Parts[1].Text != "This is a sloth." {
		t.Errorf("parts: %+v", m.Parts)
	}
	if got := AttachmentPath(&m, &img); got != "messages/attachments/"+m.Key+"/0-Sloth in bowl" {
		t.Errorf("attachment path %q", got)
	}
}

// TestControlCharactersSurvive: a control character XML forbids, raw or
// as a reference, neither stops the file nor is lost.
func TestControlCharactersSurvive(t *testing.T) {
	doc := "<smses count=\"2\">\n" +
		`<sms address="1" date="1000" type="1" body="a&#1;b&#x1f;c" />` + "\n" +
		"<sms address=\"2\" date=\"2000\" type=\"1\" body=\"raw\x0bbyte\" />\n</smses>\n"
	var bodies []string
	for m, err := range (&Reader{Name: "c.xml"}).Messages(strings.NewReader(doc)) {
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, m.Body)
	}
	if want := []string{"a\x01b\x1fc", "raw\x0bbyte"}; !reflect.DeepEqual(bodies, want) {
		t.Errorf("bodies %q, want %q", bodies, want)
	}
}

func TestBadElementNamesLineAndReadingGoesOn(t *testing.T) {
	doc := "<smses count=\"3\">\n" +
		`<sms address="1" date="1000" type="1" body="a" />` + "\n" +
		`<sms address="2" date="yesterday" type="1" body="b" />` + "\n" +
		`<sms address="3" date="3000" type="1" body="c" />` + "\n</smses>\n"
	var bodies []string
	var errs []error
	for m, err := range (&Reader{Name: "x.xml"}).Messages(strings.NewReader(doc)) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		bodies = append(bodies, m.Body)
	}
	if strings.Join(bodies, "") != "ac" {
		t.Errorf("bodies %v, want a and c", bodies)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "x.xml line 3") || !strings.Contains(errs[0].Error(), `date="yesterday"`) || !errors.Is(errs[0], mapping.ErrBadInput) {
		t.Errorf("errors %v", errs)
	}

	var last error
	for _, err := range (&Reader{Name: "cut.xml"}).Messages(strings.NewReader("<smses>\n<sms address=\"1\" date=\"1\" ")) {
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "cut.xml line") {
		t.Errorf("truncated document: %v", last)
	}
}

// gen is an io.Reader producing a document of n generated messages
// without holding it: the writer fills a small buffer on demand.
type gen struct {
	n, i int
	buf  bytes.Buffer
	bw   *BodyWriter
	done bool
}

func newGen(n int) *gen {
	g := &gen{n: n}
	g.bw = NewBodyWriter(&g.buf)
	g.buf.WriteString(SMSHeader(n))
	return g
}

func (g *gen) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && !g.done {
		if g.i == g.n {
			g.bw.Flush()
			g.buf.WriteString(SMSFooter)
			g.done = true
			break
		}
		m := mapping.Message{Type: "sms", Box: 1 + g.i%2, Address: fmt.Sprintf("+86138%08d", g.i),
			Date: time.UnixMilli(1700000000000 + int64(g.i)*1000).UTC(), Body: fmt.Sprintf("message %d 😎 &#10; <b>", g.i)}
		if err := g.bw.Message(&m, nil); err != nil {
			return 0, err
		}
		if g.i%512 == 0 {
			g.bw.Flush()
		}
		g.i++
	}
	if g.buf.Len() == 0 && g.done {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

// TestStreams100k reads 100,000 generated messages and records the heap in
// use along the way: it must stay flat, not grow with the count.
func TestStreams100k(t *testing.T) {
	n := 100_000
	if testing.Short() || raceEnabled {
		n = 10_000
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	count := 0
	for m, err := range (&Reader{Name: "gen.xml"}).Messages(newGen(n)) {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("message %d 😎 &#10; <b>", count); m.Body != want {
			t.Fatalf("message %d body %q", count, m.Body)
		}
		count++
		if count%(n/10) == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if count != n {
		t.Fatalf("read %d messages, want %d", count, n)
	}
	grow := int64(peak) - int64(base)
	t.Logf("%d messages: heap in use before %.1f MiB, peak while reading %.1f MiB (growth %.1f MiB)",
		n, float64(base)/(1<<20), float64(peak)/(1<<20), float64(grow)/(1<<20))
	// 100,000 messages held at once would be well over 30 MiB.
	if grow > 8<<20 {
		t.Errorf("heap grew by %d bytes while streaming", grow)
	}
}

func BenchmarkReadMessages(b *testing.B) {
	for b.Loop() {
		for _, err := range (&Reader{Name: "gen.xml"}).Messages(newGen(1000)) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
