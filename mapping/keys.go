package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// NormalizeAddress reduces a phone number or address to the form keys use:
// separators dropped, a leading + kept, e-mail addresses lower-cased. MIUI
// groups digits with spaces ("138 0013 8000") while Android does not.
func NormalizeAddress(a string) string {
	a = strings.TrimSpace(a)
	if strings.Contains(a, "@") {
		return strings.ToLower(a)
	}
	var b strings.Builder
	for i, r := range a {
		switch {
		case r >= '0' && r <= '9', r == '*', r == '#':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ', r == '-', r == '(', r == ')', r == '.', r == '\u00a0':
		default:
			// Alphanumeric senders ("Xiaomi", "CMB") stay as they are.
			return strings.Join(strings.Fields(a), " ")
		}
	}
	return b.String()
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// direction folds Android's boxes into in (received) and out (everything
// the owner wrote), so one message keeps its key whichever box a source
// reports (sent vs outbox vs failed).
func direction(box int) string {
	if box == 1 {
		return "in"
	}
	return "out"
}

// MessageKey is the stable key of a message: (normalized address, date in
// ms, direction, body hash). The same SMS read from the phone and from a
// MIUI backup gets the same key, so it is stored once.
func MessageKey(m *Message) string {
	body := m.Body
	if m.Type == "mms" {
		var b strings.Builder
		for _, p := range m.Parts {
			b.WriteString(p.ContentType)
			b.WriteByte(0)
			b.WriteString(p.Text)
			b.WriteString(p.SHA256)
			b.WriteByte(0)
		}
		body = m.Subject + "\x00" + b.String()
	}
	return "msg-" + shortHash(m.Type, NormalizeAddress(m.Address), strconv.FormatInt(m.Date.UnixMilli(), 10), direction(m.Box), body)
}

// CallKey is the stable key of a call-log row.
func CallKey(c *Call) string {
	return "call-" + shortHash(NormalizeAddress(c.Number), strconv.FormatInt(c.Date.UnixMilli(), 10), strconv.Itoa(c.Type), strconv.FormatInt(c.Duration, 10))
}

// HashKey builds a key from a prefix and the hash of some bytes; contacts
// without a source id use it over their normalized card.
func HashKey(prefix string, b []byte) string {
	return prefix + shortHash(string(b))
}
