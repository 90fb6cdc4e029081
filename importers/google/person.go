package google

// A minimal, private Contact -> Person mapping, so this importer does not
// wait for mapping/people. It should be replaced by mapping/people once that
// package lands; the fingerprint below must then follow its field choices.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-vcard"
	"google.golang.org/api/people/v1"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
	mpeople "github.com/miexit/miexit/mapping/people"
)

// clientData keys miexit writes on each contact it creates.
const (
	cdKey    = "miexit.key"
	cdSHA256 = "miexit.sha256"
	// cdPrint is a fingerprint of the fields miexit wrote, so verify sees a
	// contact edited or damaged since; "-" for contacts that were already
	// in the account and only got linked.
	cdPrint = "miexit.fp"
)

// handled are the vCard properties the mapping gives a home (or that are
// miexit's own); anything else goes into the note so nothing is lost.
var handled = map[string]bool{
	vcard.FieldVersion: true, vcard.FieldProductID: true, vcard.FieldFormattedName: true, vcard.FieldName: true,
	vcard.FieldTelephone: true, vcard.FieldEmail: true, vcard.FieldAddress: true, vcard.FieldOrganization: true,
	vcard.FieldTitle: true, vcard.FieldBirthday: true, vcard.FieldNote: true, vcard.FieldURL: true,
	vcard.FieldNickname: true, vcard.FieldCategories: true, vcard.FieldPhoto: true, vcard.FieldRevision: true,
	vcard.FieldUID: true, snapshot.KeyField: true,
}

func typeOf(f *vcard.Field, def string) string {
	for _, t := range f.Params.Types() {
		switch strings.ToLower(t) {
		case "cell":
			return "mobile"
		case "home":
			return "home"
		case "work":
			return "work"
		case "fax":
			return "workFax"
		case "pager":
			return "pager"
		case "main":
			return "main"
		}
	}
	return def
}

// toPerson maps a contact through mapping/people, which places every
// field (what Person has no home for goes to userDefined or the note); it
// also returns the labels and the photo bytes, which travel through other
// calls. miexit's own clientData (key, record hash, fingerprint) is added.
func toPerson(c mapping.Contact, recordSHA string) (*people.Person, []string, []byte, error) {
	res := mpeople.ToPerson(c)
	p := res.Person
	if p == nil {
		return nil, nil, nil, fmt.Errorf("%w: contact %s: nothing to map", mapping.ErrBadInput, c.Key)
	}
	var keep []*people.ClientData
	for _, cd := range p.ClientData {
		switch cd.Key {
		case cdKey, cdSHA256, cdPrint, mpeople.ClientKey:
		default:
			keep = append(keep, cd)
		}
	}
	p.ClientData = append(keep,
		&people.ClientData{Key: cdKey, Value: c.Key},
		&people.ClientData{Key: cdSHA256, Value: recordSHA},
		&people.ClientData{Key: cdPrint, Value: fingerprint(p)},
	)
	var photo []byte
	if res.Photo != nil {
		photo = res.Photo.Data
	}
	return p, res.Groups, photo, nil
}

func sortedFields(c vcard.Card) []string {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// birthday reads the vCard date forms phones write: 1990-05-17, 19900517,
// --0517 and --05-17 (no year). Anything else is kept as text.
func birthday(v string) *people.Birthday {
	s := strings.ReplaceAll(strings.SplitN(v, "T", 2)[0], "-", "")
	d := &people.Date{}
	switch {
	case strings.HasPrefix(v, "--") && len(s) == 4:
		d.Month, _ = atoi(s[0:2])
		d.Day, _ = atoi(s[2:4])
	case len(s) == 8:
		d.Year, _ = atoi(s[0:4])
		d.Month, _ = atoi(s[4:6])
		d.Day, _ = atoi(s[6:8])
	}
	if d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
		return &people.Birthday{Text: v}
	}
	return &people.Birthday{Date: d}
}

func atoi(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// photoBytes returns the card's embedded photo: a data: URI (vCard 4.0) or
// base64 with ENCODING=b (2.1/3.0). A photo given only as a web link is
// left out: miexit fetches nothing from the internet.
func photoBytes(card vcard.Card) ([]byte, error) {
	f := card.Preferred(vcard.FieldPhoto)
	if f == nil || f.Value == "" {
		return nil, nil
	}
	v := f.Value
	if strings.HasPrefix(v, "data:") {
		_, data, ok := strings.Cut(v, ",")
		if !ok || !strings.Contains(v[:len(v)-len(data)], ";base64") {
			return nil, fmt.Errorf("PHOTO data URI is not base64")
		}
		v = data
	} else if strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
	if err != nil {
		return nil, fmt.Errorf("PHOTO is not valid base64")
	}
	return b, nil
}

// fingerprint hashes the fields miexit sets, in a form the API echoes back
// unchanged: names, phone numbers (normalized) and e-mail addresses.
func fingerprint(p *people.Person) string {
	var parts []string
	// Name words, not name fields: Google splits an unstructured name into
	// given and family names, and the words stay the same.
	for _, n := range p.Names {
		words := strings.Fields(strings.ToLower(n.GivenName + " " + n.MiddleName + " " + n.FamilyName))
		if len(words) == 0 {
			words = strings.Fields(strings.ToLower(n.UnstructuredName))
		}
		sort.Strings(words)
		parts = append(parts, "n")
		parts = append(parts, words...)
	}
	var phones, mails []string
	for _, ph := range p.PhoneNumbers {
		phones = append(phones, mapping.NormalizeAddress(ph.Value))
	}
	for _, e := range p.EmailAddresses {
		mails = append(mails, strings.ToLower(strings.TrimSpace(e.Value)))
	}
	sort.Strings(phones)
	sort.Strings(mails)
	parts = append(parts, "p")
	parts = append(parts, phones...)
	parts = append(parts, "e")
	parts = append(parts, mails...)
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

func clientData(p *people.Person, key string) string {
	for _, cd := range p.ClientData {
		if cd.Key == key {
			return cd.Value
		}
	}
	return ""
}

// displayName is the name used to spot a contact already in the account.
func displayName(p *people.Person) string {
	for _, n := range p.Names {
		if s := strings.TrimSpace(n.UnstructuredName); s != "" {
			return strings.ToLower(strings.Join(strings.Fields(s), " "))
		}
		if n.DisplayName != "" {
			return strings.ToLower(strings.Join(strings.Fields(n.DisplayName), " "))
		}
		s := strings.TrimSpace(n.GivenName + " " + n.MiddleName + " " + n.FamilyName)
		if s != "" {
			return strings.ToLower(strings.Join(strings.Fields(s), " "))
		}
	}
	return ""
}

// addresses are a person's normalized phone numbers and e-mail addresses.
func addresses(p *people.Person) []string {
	var out []string
	for _, ph := range p.PhoneNumbers {
		if v := mapping.NormalizeAddress(ph.Value); v != "" {
			out = append(out, v)
		}
	}
	for _, e := range p.EmailAddresses {
		if v := mapping.NormalizeAddress(e.Value); v != "" {
			out = append(out, v)
		}
	}
	return out
}
