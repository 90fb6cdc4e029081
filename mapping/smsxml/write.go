// Package smsxml reads and writes the XML of SMS Backup & Restore, the file
// Android restore apps read on the new phone.
package smsxml

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/miexit/miexit/mapping"
)

// Header and footers of the two documents. The element count must be known
// before the body, so callers stream bodies to a spool and join them here.
func SMSHeader(count int) string {
	return fmt.Sprintf("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"%d\">\n", count)
}

const SMSFooter = "</smses>\n"

func CallsHeader(count int) string {
	return fmt.Sprintf("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<calls count=\"%d\">\n", count)
}

const CallsFooter = "</calls>\n"

// BodyWriter writes <sms>, <mms> and <call> elements, one per line.
type BodyWriter struct {
	w *bufio.Writer
}

// NewBodyWriter returns a writer of elements to w.
func NewBodyWriter(w io.Writer) *BodyWriter { return &BodyWriter{w: bufio.NewWriterSize(w, 64<<10)} }

// Flush writes buffered elements.
func (b *BodyWriter) Flush() error { return b.w.Flush() }

// attr writes one attribute. Missing values are the literal "null", as the
// app writes them.
func (b *BodyWriter) attr(name, value string) {
	b.w.WriteByte(' ')
	b.w.WriteString(name)
	b.w.WriteString(`="`)
	b.w.WriteString(Escape(value))
	b.w.WriteByte('"')
}

func ms(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// secs is MMS date_sent: seconds, as Android's provider keeps it.
func secs(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

func readable(t time.Time) string { return t.Local().Format("Jan 2, 2006 3:04:05 PM") }

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

func b01(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// Message writes one SMS or MMS element; open reads MMS attachments to
// embed (nil embeds none).
func (b *BodyWriter) Message(m *mapping.Message, open AttachmentReader) error {
	if m.Type == "mms" {
		return b.MMS(m, open)
	}
	b.w.WriteString("  <sms")
	b.attr("protocol", "0")
	b.attr("address", m.Address)
	b.attr("date", ms(m.Date))
	b.attr("type", strconv.Itoa(m.Box))
	b.attr("subject", orNull(m.Subject))
	b.attr("body", m.Body)
	b.attr("toa", "null")
	b.attr("sc_toa", "null")
	b.attr("service_center", orNull(m.ServiceCenter))
	b.attr("read", b01(m.Read))
	b.attr("status", strconv.Itoa(statusOr(m.Status)))
	b.attr("locked", b01(m.Locked))
	b.attr("date_sent", ms(m.DateSent))
	b.attr("sub_id", strconv.Itoa(m.SubID))
	b.attr("readable_date", readable(m.Date))
	b.attr("contact_name", orNull(m.ContactName))
	_, err := b.w.WriteString(" />\n")
	return err
}

func statusOr(s int) int {
	if s == 0 {
		return -1
	}
	return s
}

// AttachmentReader opens an MMS part's file so its bytes can be embedded.
type AttachmentReader func(rel string) (io.ReadCloser, error)

// MMS writes an <mms> element; binary parts are read through open and
// embedded as base64, as restore apps expect.
func (b *BodyWriter) MMS(m *mapping.Message, open AttachmentReader) error {
	b.w.WriteString("  <mms")
	b.attr("date", ms(m.Date))
	b.attr("msg_box", strconv.Itoa(m.Box))
	b.attr("address", m.Address)
	b.attr("m_type", mType(m.Box))
	b.attr("sub", orNull(m.Subject))
	b.attr("read", b01(m.Read))
	b.attr("locked", b01(m.Locked))
	b.attr("date_sent", secs(m.DateSent))
	b.attr("sub_id", strconv.Itoa(m.SubID))
	b.attr("ct_t", "application/vnd.wap.multipart.related")
	b.attr("readable_date", readable(m.Date))
	b.attr("contact_name", orNull(m.ContactName))
	b.w.WriteString(">\n    <parts>\n")
	for _, p := range m.Parts {
		b.w.WriteString("      <part")
		b.attr("seq", strconv.Itoa(p.Seq))
		b.attr("ct", p.ContentType)
		b.attr("name", orNull(p.Name))
		b.attr("chset", chset(p.Charset))
		b.attr("cd", "null")
		b.attr("fn", "null")
		b.attr("cid", orNull(p.ContentID))
		b.attr("cl", orNull(p.ContentLocation))
		b.attr("ctt_s", "null")
		b.attr("ctt_t", "null")
		b.attr("text", orNull(p.Text))
		if p.File != "" && open != nil {
			if err := b.embed(p.File, open); err != nil {
				return fmt.Errorf("mms %s part %d: %w", m.Key, p.Seq, err)
			}
		}
		b.w.WriteString(" />\n")
	}
	b.w.WriteString("    </parts>\n    <addrs>\n")
	for _, a := range m.Addrs {
		b.w.WriteString("      <addr")
		b.attr("address", a.Address)
		b.attr("type", strconv.Itoa(a.Type))
		b.attr("charset", strconv.Itoa(orInt(a.Charset, 106)))
		b.w.WriteString(" />\n")
	}
	_, err := b.w.WriteString("    </addrs>\n  </mms>\n")
	return err
}

func (b *BodyWriter) embed(rel string, open AttachmentReader) error {
	rc, err := open(rel)
	if err != nil {
		return err
	}
	defer rc.Close()
	b.w.WriteString(` data="`)
	enc := newBase64Writer(b.w)
	if _, err := io.Copy(enc, rc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	b.w.WriteByte('"')
	return nil
}

func chset(c int) string {
	if c == 0 {
		return "null"
	}
	return strconv.Itoa(c)
}

func orInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// mType is the PDU type: 128 send-req for sent, 132 retrieve-conf for received.
func mType(box int) string {
	if box == 2 || box == 4 {
		return "128"
	}
	return "132"
}

// Call writes one <call> element.
func (b *BodyWriter) Call(c *mapping.Call) error {
	b.w.WriteString("  <call")
	b.attr("number", c.Number)
	b.attr("duration", strconv.FormatInt(c.Duration, 10))
	b.attr("date", ms(c.Date))
	b.attr("type", strconv.Itoa(c.Type))
	b.attr("presentation", "1")
	b.attr("subscription_id", strconv.Itoa(c.SubID))
	b.attr("readable_date", readable(c.Date))
	b.attr("contact_name", orNull(c.Name))
	_, err := b.w.WriteString(" />\n")
	return err
}

// Escape escapes an attribute value the way the app writes it: XML's five
// entities, and newline, carriage return and tab as character references
// so they survive attribute-value normalization.
func Escape(s string) string {
	if !strings.ContainsAny(s, "<>&\"'\n\r\t") && validXML(s) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			sb.WriteString("&lt;")
		case '>':
			sb.WriteString("&gt;")
		case '&':
			sb.WriteString("&amp;")
		case '"':
			sb.WriteString("&quot;")
		case '\'':
			sb.WriteString("&apos;")
		case '\n':
			sb.WriteString("&#10;")
		case '\r':
			sb.WriteString("&#13;")
		case '\t':
			sb.WriteString("&#9;")
		default:
			if !xmlChar(r) {
				// XML 1.0 cannot carry these at all; U+FFFD keeps the
				// document readable, and messages.jsonl keeps the original.
				sb.WriteRune('\uFFFD')
				continue
			}
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func validXML(s string) bool {
	for _, r := range s {
		if !xmlChar(r) {
			return false
		}
	}
	return true
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}
