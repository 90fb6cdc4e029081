package vcard

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-vcard"
)

// Versions Encode writes.
const (
	V4 = "4.0"
	V3 = "3.0"
)

// leading properties come first, in this order, so cards read naturally;
// the rest follow sorted by name, fields in their original order.
var leading = []string{"FN", "N", "X-PHONETIC-FIRST-NAME", "X-PHONETIC-MIDDLE-NAME", "X-PHONETIC-LAST-NAME", "NICKNAME"}

// Encode writes one card as vCard 4.0 (version V4) or 3.0 (V3). It writes
// what the model holds and nothing else, so Decode(Encode(c)) == c. Unlike
// go-vcard's encoder it quotes parameter values holding ",;:" (RFC 6868
// caret escapes for newline and quote), leaves URIs unescaped and folds
// lines at 75 octets.
func Encode(w io.Writer, card vcard.Card, version string) error {
	if version != V4 && version != V3 {
		return fmt.Errorf("vcard: cannot encode version %q", version)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("BEGIN:VCARD\r\nVERSION:" + version + "\r\n")
	for _, k := range propOrder(card) {
		for _, f := range card[k] {
			writeFolded(bw, formatField(k, f, version))
		}
	}
	bw.WriteString("END:VCARD\r\n")
	return bw.Flush()
}

func propOrder(card vcard.Card) []string {
	var rest []string
	for k := range card {
		if strings.EqualFold(k, vcard.FieldVersion) || slices.Contains(leading, k) {
			continue
		}
		rest = append(rest, k)
	}
	slices.Sort(rest)
	var out []string
	for _, k := range leading {
		if _, ok := card[k]; ok {
			out = append(out, k)
		}
	}
	return append(out, rest...)
}

func formatField(name string, f *vcard.Field, version string) string {
	var b strings.Builder
	if f.Group != "" {
		b.WriteString(f.Group)
		b.WriteByte('.')
	}
	b.WriteString(name)
	params := f.Params
	value := f.Value
	if version == V3 {
		params, value = toV3(params, value)
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(';')
		b.WriteString(k)
		b.WriteByte('=')
		for i, v := range params[k] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatParam(v))
		}
	}
	b.WriteByte(':')
	b.WriteString(formatValue(name, params, value))
	return b.String()
}

// FormatHead writes a property's name and parameters as a 4.0 content
// line starts them ("TEL;TYPE=CELL"), unfolded.
func FormatHead(name string, params vcard.Params) string {
	line := formatField(name, &vcard.Field{Params: params}, V4)
	return strings.TrimSuffix(line, ":")
}

func formatParam(v string) string {
	v = caretEncoder.Replace(v)
	if v == "" || strings.ContainsAny(v, ",;: \t") {
		return `"` + v + `"`
	}
	return v
}

var (
	textEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, ",", `\,`, ";", `\;`)
	listEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, ";", `\;`)
	uriEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	compEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, ",", `\,`, ";", `\;`)
)

func formatValue(name string, params vcard.Params, v string) string {
	if e := params["ENCODING"]; len(e) == 1 && strings.EqualFold(e[0], "b") && !strings.ContainsAny(v, "\r\n") {
		// Inline data that was not valid base64, kept exactly as read.
		return v
	}
	switch {
	case IsStructured(name, params):
		cs := Components(v)
		for i, c := range cs {
			cs[i] = compEscaper.Replace(c)
		}
		return strings.Join(cs, ";")
	case uriProps[name]:
		return uriEscaper.Replace(v)
	case name == "NICKNAME" || name == "CATEGORIES":
		return listEscaper.Replace(v)
	}
	return textEscaper.Replace(v)
}

// toV3 rewrites the 4.0 forms a 3.0 reader would not understand: data:
// URIs become ENCODING=b with a TYPE, and PREF=n also sets TYPE=pref (PREF
// itself stays, so decoding the 3.0 card loses nothing).
func toV3(p vcard.Params, v string) (vcard.Params, string) {
	out := vcard.Params{}
	for k, vs := range p {
		out[k] = slices.Clone(vs)
	}
	if _, ok := out["PREF"]; ok {
		out["TYPE"] = append(out["TYPE"], "pref")
	}
	if rest, ok := strings.CutPrefix(v, "data:"); ok {
		if mt, data, ok := strings.Cut(rest, ";base64,"); ok {
			out["ENCODING"] = []string{"b"}
			if t, ok := v3Types[mt]; ok {
				out["TYPE"] = append(out["TYPE"], t)
			} else {
				out["TYPE"] = append(out["TYPE"], mt)
			}
			v = data
		}
	}
	if len(out) == 0 {
		return nil, v
	}
	return out, v
}

// v3Types names media types the way 3.0 TYPE values do; others are
// written as the media type itself, which Decode also reads.
var v3Types = map[string]string{
	"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/bmp": "BMP",
	"image/tiff": "TIFF", "audio/wav": "WAV", "audio/mpeg": "MP3",
	"application/pkix-cert": "X509", "application/pgp-keys": "PGP",
}

// writeFolded writes one content line folded at 75 octets without
// splitting a UTF-8 sequence.
func writeFolded(w *bufio.Writer, line string) {
	const limit = 75
	first := true
	for len(line) > 0 {
		n := limit
		if !first {
			n = limit - 1
			w.WriteByte(' ')
		}
		if n >= len(line) {
			n = len(line)
		} else {
			for n > 0 && !utf8.RuneStart(line[n]) {
				n--
			}
			if n == 0 {
				n = len(line)
			}
		}
		w.WriteString(line[:n])
		w.WriteString("\r\n")
		line = line[n:]
		first = false
	}
}
