package google

// Contacts are mapped by mapping/people; this file adds miexit's own
// clientData (key, record hash, and a fingerprint of the fields Google keeps
// as given, so verify sees a contact edited since).

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/api/people/v1"

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
