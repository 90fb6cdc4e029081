package smsxml

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/miexit/miexit/mapping"
)

// AttachmentSink stores the bytes of one MMS part (base64 "data" in the
// XML) and sets p.File to where it put them, relative to the snapshot root.
// When it is called, p.Size and p.SHA256 are set and m.Key is final.
type AttachmentSink func(m *mapping.Message, p *mapping.Part, data io.Reader) error

// Reader reads an SMS Backup & Restore document, element by element: a
// backup of any size costs one message at a time.
type Reader struct {
	// Name labels errors (usually the file's path).
	Name string
	// Attachment stores MMS part bytes; nil keeps only their size and hash.
	Attachment AttachmentSink
}

// Messages yields each <sms> and <mms> of a <smses> document. An element
// with a bad value yields an error naming it and reading goes on; a broken
// document (XML syntax) ends the sequence with an error naming the line.
func (r *Reader) Messages(in io.Reader) iter.Seq2[mapping.Message, error] {
	return func(yield func(mapping.Message, error) bool) {
		r.walk(in, func(el *element) bool {
			switch el.name {
			case "sms":
				m, err := el.sms()
				return yield(m, r.wrap(el, err))
			case "mms":
				m, err := el.mms(r.Attachment)
				return yield(m, r.wrap(el, err))
			}
			return true
		}, func(err error) { yield(mapping.Message{}, err) })
	}
}

// Calls yields each <call> of a <calls> document.
func (r *Reader) Calls(in io.Reader) iter.Seq2[mapping.Call, error] {
	return func(yield func(mapping.Call, error) bool) {
		r.walk(in, func(el *element) bool {
			if el.name != "call" {
				return true
			}
			c, err := el.call()
			return yield(c, r.wrap(el, err))
		}, func(err error) { yield(mapping.Call{}, err) })
	}
}

func (r *Reader) wrap(el *element, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s line %d: <%s>: %w: %w", r.Name, el.line, el.name, mapping.ErrBadInput, err)
}

// element is one <sms>, <mms> or <call>, with an <mms>'s parts and addrs.
type element struct {
	name  string
	line  int
	attrs map[string]string
	parts []map[string]string
	addrs []map[string]string
}

func attrMap(as []xml.Attr) map[string]string {
	m := make(map[string]string, len(as))
	for _, a := range as {
		m[a.Name.Local] = RestoreControls(a.Value)
	}
	return m
}

// walk streams the document and hands each complete top-level item to fn.
func (r *Reader) walk(in io.Reader, fn func(*element) bool, fail func(error)) {
	dec := xml.NewDecoder(JoinSurrogates(in))
	var cur *element
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if cur != nil || depth > 0 {
				fail(fmt.Errorf("%s: document ends inside an element: %w", r.Name, mapping.ErrBadInput))
			}
			return
		}
		if err != nil {
			line, _ := dec.InputPos()
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				line = se.Line
			}
			fail(fmt.Errorf("%s line %d: %w: %w", r.Name, line, mapping.ErrBadInput, err))
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			name := t.Name.Local
			switch {
			case cur == nil && (name == "sms" || name == "mms" || name == "call"):
				line, _ := dec.InputPos()
				cur = &element{name: name, line: line, attrs: attrMap(t.Attr)}
			case cur != nil && cur.name == "mms" && name == "part":
				cur.parts = append(cur.parts, attrMap(t.Attr))
			case cur != nil && cur.name == "mms" && name == "addr":
				cur.addrs = append(cur.addrs, attrMap(t.Attr))
			}
		case xml.EndElement:
			depth--
			if cur != nil && t.Name.Local == cur.name {
				el := cur
				cur = nil
				if !fn(el) {
					return
				}
			}
		}
	}
}

// val returns an attribute, with the app's "null" read as empty.
func val(m map[string]string, k string) string {
	v := m[k]
	if v == "null" {
		return ""
	}
	return v
}

func intVal(m map[string]string, k string, def int) (int, error) {
	v := strings.TrimSpace(val(m, k))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number", k, v)
	}
	return n, nil
}

// msVal reads milliseconds since the epoch; 0 and absent are the zero time.
func msVal(m map[string]string, k string, scale int64) (time.Time, error) {
	v := strings.TrimSpace(val(m, k))
	if v == "" || v == "0" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q is not a number", k, v)
	}
	return time.UnixMilli(n * scale).UTC(), nil
}

func contactName(m map[string]string) string {
	v := val(m, "contact_name")
	if v == "(Unknown)" {
		return ""
	}
	return v
}

func (el *element) sms() (mapping.Message, error) {
	a := el.attrs
	m := mapping.Message{Type: "sms", Address: val(a, "address"), Subject: val(a, "subject"),
		Body: a["body"], ServiceCenter: val(a, "service_center"), ContactName: contactName(a),
		Read: a["read"] == "1", Locked: a["locked"] == "1"}
	var errs []error
	var err error
	m.Date, err = msVal(a, "date", 1)
	errs = append(errs, err)
	m.DateSent, err = msVal(a, "date_sent", 1)
	errs = append(errs, err)
	m.Box, err = intVal(a, "type", 1)
	errs = append(errs, err)
	m.Status, err = intVal(a, "status", -1)
	errs = append(errs, err)
	if m.Status == -1 {
		m.Status = 0 // the writer's "none"
	}
	m.SubID, err = intVal(a, "sub_id", 0)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return mapping.Message{}, err
	}
	m.Key = mapping.MessageKey(&m)
	return m, nil
}

func (el *element) mms(sink AttachmentSink) (mapping.Message, error) {
	a := el.attrs
	m := mapping.Message{Type: "mms", Address: val(a, "address"), Subject: val(a, "sub"),
		ContactName: contactName(a), Read: a["read"] == "1", Locked: a["locked"] == "1"}
	var errs []error
	var err error
	m.Date, err = msVal(a, "date", 1)
	errs = append(errs, err)
	// MMS date_sent is in seconds, as in Android's provider.
	m.DateSent, err = msVal(a, "date_sent", 1000)
	errs = append(errs, err)
	m.Box, err = intVal(a, "msg_box", 1)
	errs = append(errs, err)
	m.SubID, err = intVal(a, "sub_id", 0)
	errs = append(errs, err)
	data := make([][]byte, len(el.parts))
	for i, pa := range el.parts {
		p := mapping.Part{ContentType: val(pa, "ct"), Name: val(pa, "name"), ContentID: val(pa, "cid"),
			ContentLocation: val(pa, "cl"), Text: val(pa, "text")}
		p.Seq, err = intVal(pa, "seq", 0)
		errs = append(errs, err)
		p.Charset, err = intVal(pa, "chset", 0)
		errs = append(errs, err)
		if d := pa["data"]; d != "" && d != "null" {
			b, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, d))
			if err != nil {
				errs = append(errs, fmt.Errorf("part %d: data is not base64: %w", i, err))
				continue
			}
			sum := sha256.Sum256(b)
			p.Size, p.SHA256 = int64(len(b)), hex.EncodeToString(sum[:])
			data[i] = b
		}
		m.Parts = append(m.Parts, p)
	}
	for _, aa := range el.addrs {
		ad := mapping.Addr{Address: val(aa, "address")}
		ad.Type, err = intVal(aa, "type", 0)
		errs = append(errs, err)
		ad.Charset, err = intVal(aa, "charset", 0)
		errs = append(errs, err)
		m.Addrs = append(m.Addrs, ad)
	}
	if err := errors.Join(errs...); err != nil {
		return mapping.Message{}, err
	}
	m.Key = mapping.MessageKey(&m)
	if sink != nil {
		for i := range m.Parts {
			if data[i] == nil {
				continue
			}
			if err := sink(&m, &m.Parts[i], bytes.NewReader(data[i])); err != nil {
				return mapping.Message{}, fmt.Errorf("mms %s part %d: %w", m.Key, m.Parts[i].Seq, err)
			}
		}
	}
	return m, nil
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
		return -1
	}
	return r
}

func (el *element) call() (mapping.Call, error) {
	a := el.attrs
	c := mapping.Call{Number: val(a, "number"), Name: contactName(a)}
	var errs []error
	var err error
	c.Date, err = msVal(a, "date", 1)
	errs = append(errs, err)
	var d int
	d, err = intVal(a, "duration", 0)
	c.Duration = int64(d)
	errs = append(errs, err)
	c.Type, err = intVal(a, "type", 0)
	errs = append(errs, err)
	c.SubID, err = intVal(a, "subscription_id", 0)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return mapping.Call{}, err
	}
	c.Key = mapping.CallKey(&c)
	return c, nil
}

// AttachmentPath is where a snapshot keeps an MMS part's bytes:
// messages/attachments/<message key>/<seq>-<file name>, the name taken
// from the part (cleaned, so it never leaves that folder).
func AttachmentPath(m *mapping.Message, p *mapping.Part) string {
	name := p.Name
	if name == "" {
		name = p.ContentLocation
	}
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." || name == "/" {
		name = "part"
	}
	return fmt.Sprintf("messages/attachments/%s/%d-%s", m.Key, p.Seq, name)
}
