package vcard

import (
	"bytes"
	"slices"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/mapping"
)

// volatile properties change on every export of the same contact and so
// stay out of its hash.
var volatile = map[string]bool{"REV": true, "PRODID": true, "X-MIEXIT-SOURCES": true}

// Key is a contact's stable key: from its UID when the source has one,
// else a hash of the normalized 4.0 card (without REV and PRODID), so the
// same card keeps its key across runs whichever version it came in.
func Key(card vcard.Card) string {
	if uid := strings.TrimSpace(card.Value(vcard.FieldUID)); uid != "" {
		return mapping.HashKey("contact-uid-", []byte(uid))
	}
	c := vcard.Card{}
	for k, fs := range card {
		if !volatile[k] {
			c[k] = fs
		}
	}
	var b bytes.Buffer
	_ = Encode(&b, c, V4) // writing to a bytes.Buffer cannot fail
	return mapping.HashKey("contact-", b.Bytes())
}

// SamePerson reports whether two contacts, perhaps from two sources, are
// one person: the same UID, or the same formatted name (case and spacing
// folded) and at least one phone number or e-mail address in common.
func SamePerson(a, b mapping.Contact) bool {
	ua, ub := a.Card.Value(vcard.FieldUID), b.Card.Value(vcard.FieldUID)
	if ua != "" && ua == ub {
		return true
	}
	if fold(a.Card.Value(vcard.FieldFormattedName)) == "" ||
		fold(a.Card.Value(vcard.FieldFormattedName)) != fold(b.Card.Value(vcard.FieldFormattedName)) {
		return false
	}
	ids := map[string]bool{}
	for _, k := range []string{vcard.FieldTelephone, vcard.FieldEmail} {
		for _, f := range a.Card[k] {
			ids[k+"\x00"+mapping.NormalizeAddress(f.Value)] = true
		}
	}
	for _, k := range []string{vcard.FieldTelephone, vcard.FieldEmail} {
		for _, f := range b.Card[k] {
			if ids[k+"\x00"+mapping.NormalizeAddress(f.Value)] {
				return true
			}
		}
	}
	return false
}

func fold(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// single lists properties a 4.0 card holds at most once.
var single = map[string]bool{"N": true, "BDAY": true, "ANNIVERSARY": true, "GENDER": true, "KIND": true, "UID": true, "REV": true, "PRODID": true}

// Merge joins b into a for one person seen in two sources; a wins. Every
// field of b that a lacks is added (phones and e-mails compared
// normalized); where a property may appear only once and b's differs, b's
// is kept as X-MIEXIT-MERGED-<NAME> so nothing is lost. The key stays a's.
func Merge(a, b mapping.Contact) mapping.Contact {
	out := vcard.Card{}
	for k, fs := range a.Card {
		out[k] = slices.Clone(fs)
	}
	for _, k := range propOrder(b.Card) {
		for _, f := range b.Card[k] {
			if slices.ContainsFunc(out[k], func(g *vcard.Field) bool { return sameField(k, f, g) }) {
				continue
			}
			if single[k] && len(out[k]) > 0 {
				out["X-MIEXIT-MERGED-"+k] = append(out["X-MIEXIT-MERGED-"+k], &vcard.Field{Value: f.Value, Params: f.Params, Group: f.Group})
				continue
			}
			out[k] = append(out[k], f)
		}
	}
	if _, ok := out[vcard.FieldVersion]; !ok {
		out[vcard.FieldVersion] = []*vcard.Field{{Value: V4}}
	}
	return mapping.Contact{Key: a.Key, Card: out}
}

func sameField(k string, f, g *vcard.Field) bool {
	switch k {
	case vcard.FieldVersion:
		return true
	case vcard.FieldTelephone, vcard.FieldEmail:
		return mapping.NormalizeAddress(f.Value) == mapping.NormalizeAddress(g.Value)
	}
	return f.Value == g.Value && f.Group == g.Group
}
