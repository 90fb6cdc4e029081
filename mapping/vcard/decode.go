// Package vcard converts between vCard 2.1, 3.0 and 4.0 text, as phones and
// address books really write it, and miexit's contact model (go-vcard's
// Card, normalized to 4.0). Nothing a card holds is dropped: unknown X-
// properties and parameters travel unchanged.
package vcard

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/mapping"
	"github.com/miexit/miexit/mapping/media"
)

// Limits that keep memory bounded whatever the input holds. A phone's
// contact photo is well under 1 MB; these leave ample room.
const (
	DefaultMaxLine = 16 << 20
	DefaultMaxCard = 32 << 20
	maxNesting     = 8
)

// KeyField is the property a snapshot's contacts.vcf stores each key in
// (snapshot.KeyField).
const KeyField = "X-MIEXIT-KEY"

// Decoder decodes a stream of cards with explicit limits.
type Decoder struct {
	// MaxLine caps one physical line, MaxCard one card's bytes; 0 means
	// the default.
	MaxLine, MaxCard int
}

// Decode decodes every card in r with the default limits; name labels
// errors (usually the file's path).
func Decode(r io.Reader, name string) iter.Seq2[mapping.Contact, error] {
	return (&Decoder{}).Decode(r, name)
}

// Decode yields each card of r as a contact. A malformed card yields an
// error naming the file and line (wrapping mapping.ErrBadInput) and
// decoding goes on with the next card; only a read error ends the sequence
// early.
func (d *Decoder) Decode(r io.Reader, name string) iter.Seq2[mapping.Contact, error] {
	maxLine, maxCard := d.MaxLine, d.MaxCard
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	if maxCard <= 0 {
		maxCard = DefaultMaxCard
	}
	return func(yield func(mapping.Contact, error) bool) {
		p := &parser{lr: newLineReader(r, maxLine), name: name, maxCard: maxCard}
		p.run(yield)
	}
}

// logical is one property after unfolding, with the line it started on.
type logical struct {
	n    int
	text []byte
}

type rawCard struct {
	start int
	lines []logical
	size  int
	err   error // first problem; the card is skipped to its END
}

type parser struct {
	lr      *lineReader
	name    string
	maxCard int
	stack   []*rawCard
}

func (p *parser) bad(n int, format string, args ...any) error {
	return fmt.Errorf("%s line %d: %s: %w", p.name, n, fmt.Sprintf(format, args...), mapping.ErrBadInput)
}

func isKeyword(line []byte, kw string) bool {
	return strings.EqualFold(string(bytes.TrimSpace(line)), kw)
}

func (p *parser) run(yield func(mapping.Contact, error) bool) {
	junk := false
	first := true
	for {
		line, n, err := p.lr.next()
		var tooLong *errLineTooLong
		switch {
		case errors.As(err, &tooLong):
			e := p.bad(n, "line longer than %d bytes", p.lr.max)
			if len(p.stack) > 0 {
				top := p.stack[len(p.stack)-1]
				if top.err == nil {
					top.err = e
				}
				continue
			}
			if !yield(mapping.Contact{}, e) {
				return
			}
			continue
		case err == io.EOF:
			for i := len(p.stack) - 1; i >= 0; i-- {
				c := p.stack[i]
				e := c.err
				if e == nil {
					e = p.bad(c.start, "card has no END:VCARD")
				}
				if !yield(mapping.Contact{}, e) {
					return
				}
			}
			return
		case err != nil:
			yield(mapping.Contact{}, fmt.Errorf("read %s: %w", p.name, err))
			return
		}
		if first {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			first = false
		}
		if isKeyword(line, "BEGIN:VCARD") {
			junk = false
			if len(p.stack) >= maxNesting {
				top := p.stack[len(p.stack)-1]
				if top.err == nil {
					top.err = p.bad(n, "cards nested deeper than %d", maxNesting)
				}
				continue
			}
			p.stack = append(p.stack, &rawCard{start: n})
			continue
		}
		if len(p.stack) == 0 {
			if len(bytes.TrimSpace(line)) == 0 || junk {
				continue
			}
			junk = true
			if !yield(mapping.Contact{}, p.bad(n, "text outside BEGIN:VCARD ... END:VCARD")) {
				return
			}
			continue
		}
		top := p.stack[len(p.stack)-1]
		if isKeyword(line, "END:VCARD") {
			p.stack = p.stack[:len(p.stack)-1]
			var c mapping.Contact
			err := top.err
			if err == nil {
				c, err = p.build(top)
			}
			if !yield(c, err) {
				return
			}
			continue
		}
		if top.err != nil {
			continue
		}
		if err := p.addLine(top, line, n); err != nil {
			top.err = err
		}
	}
}

func (p *parser) grow(c *rawCard, n, by int) error {
	c.size += by
	if c.size > p.maxCard {
		return p.bad(n, "card begun at line %d is larger than %d bytes", c.start, p.maxCard)
	}
	return nil
}

// addLine assembles logical lines: folding, quoted-printable soft breaks,
// 2.1 base64 blocks ended by a blank line, and 2.1 backslash-ended lines.
func (p *parser) addLine(c *rawCard, line []byte, n int) error {
	if err := p.grow(c, n, len(line)); err != nil {
		return err
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	last := len(c.lines) - 1
	if line[0] == ' ' || line[0] == '\t' {
		if last < 0 {
			return p.bad(n, "continuation line before any property")
		}
		c.lines[last].text = append(c.lines[last].text, line[1:]...)
		return nil
	}
	if line[0] == '#' {
		// Broken exporters write comment lines; they carry no data.
		return nil
	}
	line, err := p.unfold(c, line)
	if err != nil {
		return err
	}
	colon := headEnd(line)
	if colon < 0 {
		if last >= 0 && bytes.HasSuffix(c.lines[last].text, []byte(`\`)) {
			t := c.lines[last].text
			t = append(t[:len(t)-1], '\n')
			c.lines[last].text = append(t, line...)
			return nil
		}
		return p.bad(n, "property line has no ':'")
	}
	l := logical{n: n, text: line}
	switch headEncoding(string(line[:colon])) {
	case "QUOTED-PRINTABLE":
		for bytes.HasSuffix(l.text, []byte("=")) {
			next, nn, err := p.lr.next()
			if err != nil {
				if err == io.EOF {
					break
				}
				return p.bad(nn, "reading quoted-printable continuation: %v", err)
			}
			if isKeyword(next, "END:VCARD") {
				p.lr.unread(next, nn)
				break
			}
			if err := p.grow(c, nn, len(next)); err != nil {
				return err
			}
			if next, err = p.unfold(c, next); err != nil {
				return err
			}
			l.text = append(l.text[:len(l.text)-1], next...)
		}
	case "BASE64":
		for {
			next, nn, err := p.lr.next()
			if err != nil {
				if err == io.EOF {
					break
				}
				return p.bad(nn, "reading base64 data: %v", err)
			}
			t := bytes.TrimSpace(next)
			if len(t) == 0 {
				break
			}
			if bytes.IndexByte(t, ':') >= 0 {
				p.lr.unread(next, nn)
				break
			}
			if err := p.grow(c, nn, len(next)); err != nil {
				return err
			}
			l.text = append(l.text, t...)
		}
	}
	c.lines = append(c.lines, l)
	return nil
}

// unfold joins the folded continuation lines (leading space or tab) that
// follow line.
func (p *parser) unfold(c *rawCard, line []byte) ([]byte, error) {
	for {
		next, nn, err := p.lr.next()
		if err != nil {
			if err == io.EOF {
				return line, nil
			}
			var tooLong *errLineTooLong
			if errors.As(err, &tooLong) {
				return nil, p.bad(nn, "line longer than %d bytes", p.lr.max)
			}
			return nil, err
		}
		if len(next) == 0 || (next[0] != ' ' && next[0] != '\t') {
			p.lr.unread(next, nn)
			return line, nil
		}
		if err := p.grow(c, nn, len(next)); err != nil {
			return nil, err
		}
		line = append(line, next[1:]...)
	}
}

// headEncoding returns the ENCODING a property head declares, bare or not.
func headEncoding(head string) string {
	segs := splitOutside(head, ';')
	for _, s := range segs[1:] {
		s = strings.ToUpper(strings.TrimSpace(s))
		if k, v, ok := strings.Cut(s, "="); ok && strings.TrimSpace(k) == "ENCODING" {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
		if s == "QUOTED-PRINTABLE" || s == "BASE64" {
			return s
		}
	}
	return ""
}

// headEnd returns the index of the ':' ending a property's name and
// parameters, skipping colons inside quoted parameter values.
func headEnd(line []byte) int {
	inParams, quoted := false, false
	for i, c := range line {
		switch {
		case c == ';' && !quoted:
			inParams = true
		case c == '"' && inParams:
			quoted = !quoted
		case c == ':' && !quoted:
			return i
		}
	}
	if quoted {
		return bytes.IndexByte(line, ':')
	}
	return -1
}

type prop struct {
	group, name string
	params      vcard.Params
}

// parseHead splits "group.NAME;param;param" into its parts. Bare 2.1
// parameters ("TEL;CELL;PREF") are TYPE values.
func parseHead(head string, caret bool) (prop, error) {
	// A CR inside a head is a broken line ending, never content.
	head = strings.ReplaceAll(head, "\r", "")
	segs := splitOutside(head, ';')
	name := strings.TrimSpace(segs[0])
	var pr prop
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		pr.group, name = name[:i], name[i+1:]
	}
	if name == "" {
		return pr, errors.New("property has no name")
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("\"',=;:.#", r) {
			return pr, fmt.Errorf("property name %q has invalid characters", name)
		}
	}
	pr.name = strings.ToUpper(name)
	for _, s := range segs[1:] {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		eq := strings.IndexByte(s, '=')
		if q := strings.IndexByte(s, '"'); eq < 0 || (q >= 0 && q < eq) {
			if pr.params == nil {
				pr.params = vcard.Params{}
			}
			k := "TYPE"
			switch strings.ToUpper(s) {
			case "QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B":
				k = "ENCODING"
			}
			pr.params[k] = append(pr.params[k], strings.ReplaceAll(s, "\r", ""))
			continue
		}
		k := strings.ToUpper(strings.TrimSpace(s[:eq]))
		if pr.params == nil {
			pr.params = vcard.Params{}
		}
		vals := splitOutside(s[eq+1:], ',')
		for _, v := range vals {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if caret {
				v = caretDecode(v)
			}
			v = strings.ReplaceAll(v, "\r", "")
			pr.params[k] = append(pr.params[k], v)
		}
		if len(vals) == 0 {
			pr.params[k] = append(pr.params[k], "")
		}
	}
	return pr, nil
}

func splitOutside(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func cardVersion(c *rawCard) string {
	for _, l := range c.lines {
		colon := headEnd(l.text)
		if colon < 0 {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(string(l.text[:colon])), "VERSION") {
			v := strings.TrimSpace(string(l.text[colon+1:]))
			switch {
			case strings.HasPrefix(v, "4"):
				return "4.0"
			case strings.HasPrefix(v, "3"):
				return "3.0"
			}
			return "2.1"
		}
	}
	// AOSP and old Nokia exports omit VERSION; 2.1 rules read them right.
	return "2.1"
}

// build turns a card's logical lines into the 4.0 model.
func (p *parser) build(c *rawCard) (mapping.Contact, error) {
	version := cardVersion(c)
	v21 := version == "2.1"
	card := vcard.Card{}
	for _, l := range c.lines {
		colon := headEnd(l.text)
		pr, err := parseHead(toUTF8(l.text[:colon], ""), !v21)
		if err != nil {
			return mapping.Contact{}, p.bad(l.n, "%v", err)
		}
		if pr.name == "VERSION" || pr.name == "BEGIN" || pr.name == "END" {
			continue
		}
		f := &vcard.Field{Group: pr.group, Params: pr.params}
		raw := l.text[colon+1:]
		enc := strings.ToUpper(f.Params.Get("ENCODING"))
		if f.Params != nil {
			if enc == "QUOTED-PRINTABLE" || enc == "8BIT" || enc == "7BIT" {
				delete(f.Params, "ENCODING")
			}
		}
		// CHARSET is how the text was carried, not part of it.
		charset := f.Params.Get("CHARSET")
		delete(f.Params, "CHARSET")
		switch enc {
		case "QUOTED-PRINTABLE":
			raw = qpDecode(raw)
		case "BASE64", "B":
			if uri, ok := dataURI(pr.name, f.Params, raw); ok {
				f.Value = uri
				delete(f.Params, "ENCODING")
				normalizeParams(f)
				card[pr.name] = append(card[pr.name], f)
				continue
			}
			// Not valid base64: kept as written, marked so it is
			// never mistaken for text.
			f.Value = string(bytes.Map(dropSpace, raw))
			f.Params["ENCODING"] = []string{"b"}
			normalizeParams(f)
			card[pr.name] = append(card[pr.name], f)
			continue
		}
		text := toUTF8(raw, charset)
		// CR LF and a lone CR are newlines in a value; the model keeps "\n".
		text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
		if IsStructured(pr.name, f.Params) {
			f.Value = unescapeStructured(text, v21)
		} else {
			f.Value = unescapeText(text, v21)
		}
		normalizeParams(f)
		card[pr.name] = append(card[pr.name], f)
	}
	card[vcard.FieldVersion] = []*vcard.Field{{Value: "4.0"}}
	// A snapshot's contacts.vcf carries each card's key; it is the key,
	// not part of the contact, as snapshot.Reader also treats it.
	if k := strings.TrimSpace(card.Value(KeyField)); k != "" {
		delete(card, KeyField)
		return mapping.Contact{Key: k, Card: card}, nil
	}
	return mapping.Contact{Key: Key(card), Card: card}, nil
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
		return -1
	}
	return r
}

// mediaTypes maps 2.1/3.0 TYPE values of binary properties to MIME types.
var mediaTypes = map[string]string{
	"JPEG": "image/jpeg", "JPG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
	"BMP": "image/bmp", "TIFF": "image/tiff", "HEIC": "image/heic", "WEBP": "image/webp",
	"WAV": "audio/wav", "WAVE": "audio/wav", "MP3": "audio/mpeg", "AAC": "audio/aac",
	"X509": "application/pkix-cert", "PGP": "application/pgp-keys",
}

// dataURI turns inline base64 into the 4.0 data: URI, taking the media type
// from the TYPE parameter or, failing that, from the bytes themselves.
func dataURI(name string, params vcard.Params, raw []byte) (string, bool) {
	clean := bytes.Map(dropSpace, raw)
	b, err := base64.StdEncoding.DecodeString(string(clean))
	if err != nil {
		return "", false
	}
	mt := ""
	if types := params["TYPE"]; len(types) > 0 {
		kept := types[:0:0]
		for _, t := range types {
			m, ok := mediaTypes[strings.ToUpper(t)]
			if !ok && strings.Count(t, "/") == 1 {
				m, ok = strings.ToLower(t), true
			}
			if ok && mt == "" {
				mt = m
				continue
			}
			kept = append(kept, t)
		}
		if len(kept) == 0 {
			delete(params, "TYPE")
		} else {
			params["TYPE"] = kept
		}
	}
	if m := params.Get("MEDIATYPE"); mt == "" && m != "" {
		mt = m
		delete(params, "MEDIATYPE")
	}
	if mt == "" {
		mt = media.Sniff(b)
	}
	if mt == "" {
		mt = "application/octet-stream"
	}
	return "data:" + mt + ";base64," + string(clean), true
}

// normalizeParams applies the 4.0 forms: TYPE=PREF becomes PREF=1, and
// VALUE=URL becomes VALUE=uri.
func normalizeParams(f *vcard.Field) {
	if f.Params == nil {
		return
	}
	if types, ok := f.Params["TYPE"]; ok {
		kept := types[:0:0]
		pref := false
		for _, t := range types {
			if strings.EqualFold(t, "PREF") {
				pref = true
				continue
			}
			kept = append(kept, t)
		}
		if pref {
			if len(kept) == 0 {
				delete(f.Params, "TYPE")
			} else {
				f.Params["TYPE"] = kept
			}
			if _, ok := f.Params["PREF"]; !ok {
				f.Params["PREF"] = []string{"1"}
			}
		}
	}
	if v := f.Params["VALUE"]; len(v) == 1 && strings.EqualFold(v[0], "URL") {
		f.Params["VALUE"] = []string{"uri"}
	}
	if len(f.Params) == 0 {
		f.Params = nil
	}
}
