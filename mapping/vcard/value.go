package vcard

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
)

// Model conventions (what a Field.Value holds once decoded):
//   - text properties (FN, NOTE, TEL, EMAIL, ...): the plain text, no escapes;
//   - structured properties (N, ADR, ORG, GEO, X-ANDROID-CUSTOM and every
//     property miexit does not know): components joined by ";", a literal
//     ";" inside a component written "\;" and a literal backslash "\\".
//
// These survive go-vcard's own encoder and decoder unchanged, so a card can
// travel through contacts.vcf written by either.

// structured lists the properties whose value is a list of components.
var structured = map[string]bool{
	"N": true, "ADR": true, "ORG": true, "GENDER": true,
	"CLIENTPIDMAP": true, "X-ANDROID-CUSTOM": true, "REQUEST-STATUS": true,
}

// textProps hold one text value: escapes are undone completely.
var textProps = map[string]bool{
	"FN": true, "NOTE": true, "TITLE": true, "ROLE": true, "NICKNAME": true,
	"CATEGORIES": true, "EMAIL": true, "TEL": true, "BDAY": true,
	"ANNIVERSARY": true, "REV": true, "PRODID": true, "VERSION": true,
	"LABEL": true, "MAILER": true, "TZ": true, "KIND": true, "LANG": true,
	"SORT-STRING": true, "NAME": true, "PROFILE": true, "CLASS": true,
	"AGENT": true, "XML": true, "X-PHONETIC-FIRST-NAME": true,
	"X-PHONETIC-MIDDLE-NAME": true, "X-PHONETIC-LAST-NAME": true,
	"X-ABLABEL": true, "X-ABDATE": true, "X-AIM": true, "X-JABBER": true,
	"X-QQ": true, "X-SKYPE": true, "X-SKYPE-USERNAME": true, "X-MSN": true,
	"X-YAHOO": true, "X-ICQ": true, "X-GOOGLE-TALK": true, "X-SIP": true,
	"X-ABRELATEDNAMES": true, "X-ANNIVERSARY": true, "X-SPOUSE": true,
	"X-NETMEETING": true, "X-PHONETIC-ORG": true,
}

// uriProps hold a URI: commas and semicolons are written as they are.
var uriProps = map[string]bool{
	"PHOTO": true, "LOGO": true, "SOUND": true, "KEY": true, "URL": true,
	"IMPP": true, "MEMBER": true, "SOURCE": true, "FBURL": true,
	"CALURI": true, "CALADRURI": true, "RELATED": true, "UID": true, "GEO": true,
}

// IsStructured reports whether the model keeps a property's value as
// ";"-joined components (see Components).
func IsStructured(name string, p map[string][]string) bool {
	name = strings.ToUpper(name)
	if structured[name] {
		return true
	}
	if name == "SOUND" {
		for _, t := range p["TYPE"] {
			if strings.EqualFold(t, "X-IRMC-N") {
				return true
			}
		}
		return false
	}
	return !textProps[name] && !uriProps[name]
}

// Components splits a structured model value into its components, undoing
// the model's "\;" and "\\".
func Components(v string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && (v[i+1] == ';' || v[i+1] == '\\') {
			b.WriteByte(v[i+1])
			i++
			continue
		}
		if c == ';' {
			out = append(out, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(c)
	}
	return append(out, b.String())
}

// JoinComponents is the inverse of Components.
func JoinComponents(cs ...string) string {
	r := strings.NewReplacer(`\`, `\\`, `;`, `\;`)
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = r.Replace(c)
	}
	return strings.Join(out, ";")
}

// qpDecode undoes quoted-printable leniently: a broken "=" sequence stays
// as it is rather than failing the whole value.
func qpDecode(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '=' && i+2 < len(b) {
			if h, ok := unhex(b[i+1]); ok {
				if l, ok := unhex(b[i+2]); ok {
					out = append(out, h<<4|l)
					i += 2
					continue
				}
			}
		}
		out = append(out, b[i])
	}
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// toUTF8 converts bytes in a declared charset. Without one (or with one
// x/text does not know), UTF-8 is kept and anything else is read as
// Windows-1252, which is what Outlook and old Mac exports hold.
func toUTF8(b []byte, charset string) string {
	if charset != "" && !strings.EqualFold(charset, "UTF-8") && !strings.EqualFold(charset, "US-ASCII") {
		if enc, err := htmlindex.Get(charset); err == nil {
			if out, err := enc.NewDecoder().Bytes(b); err == nil {
				return string(out)
			}
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	// Valid UTF-8 runs stay; each stray byte is read as Windows-1252, so
	// one bad byte in a UTF-8 card costs one character, not the value.
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(charmap.Windows1252.DecodeByte(b[0]))
		} else {
			sb.WriteRune(r)
		}
		b = b[n:]
	}
	return sb.String()
}

// unescapeText decodes a text value. vCard 2.1 escapes only ";".
func unescapeText(s string, v21 bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		n := s[i+1]
		switch {
		case n == ';':
			b.WriteByte(';')
		case v21:
			b.WriteByte(c)
			continue
		case n == '\\', n == ',', n == ':':
			b.WriteByte(n)
		case n == 'n' || n == 'N':
			b.WriteByte('\n')
		default:
			b.WriteByte(c)
			continue
		}
		i++
	}
	return b.String()
}

// unescapeStructured decodes a structured value into the model form.
func unescapeStructured(s string, v21 bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			b.WriteString(`\\`)
			continue
		}
		n := s[i+1]
		switch {
		case n == ';':
			b.WriteString(`\;`)
		case v21:
			b.WriteString(`\\`)
			continue
		case n == '\\':
			b.WriteString(`\\`)
		case n == ',', n == ':':
			b.WriteByte(n)
		case n == 'n' || n == 'N':
			b.WriteByte('\n')
		default:
			b.WriteString(`\\`)
			continue
		}
		i++
	}
	return b.String()
}

// caretDecode undoes RFC 6868 parameter encoding (vCard 3.0 and 4.0).
func caretDecode(s string) string {
	if !strings.Contains(s, "^") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '^' && i+1 < len(s) {
			switch s[i+1] {
			case 'n', 'N':
				b.WriteByte('\n')
				i++
				continue
			case '\'':
				b.WriteByte('"')
				i++
				continue
			case '^':
				b.WriteByte('^')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var caretEncoder = strings.NewReplacer("^", "^^", "\n", "^n", `"`, "^'")
