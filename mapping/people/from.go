package people

import (
	"encoding/base64"
	"strings"

	"github.com/emersion/go-vcard"
	peopleapi "google.golang.org/api/people/v1"

	"github.com/miexit/miexit/mapping"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

// FromPerson maps a Person (as connections.list returns it, with the
// extras the caller fetched beside it) back to a contact. Fields ToPerson
// moved to userDefined come back as the properties they were.
func FromPerson(p *peopleapi.Person, x Extras) mapping.Contact {
	card := vcard.Card{vcard.FieldVersion: {{Value: mvcard.V4}}}
	add := func(k string, f *vcard.Field) { card[k] = append(card[k], f) }
	typed := func(k string, kd kind, t string, md *peopleapi.FieldMetadata, v string) *vcard.Field {
		f := &vcard.Field{Value: v, Params: vcard.Params{}}
		if ts := typesFor(kd, t); len(ts) > 0 {
			f.Params["TYPE"] = ts
		}
		if md != nil && md.SourcePrimary {
			f.Params["PREF"] = []string{"1"}
		}
		add(k, f)
		return f
	}
	if len(p.Names) > 0 {
		n := p.Names[0]
		if n.UnstructuredName != "" {
			add("FN", &vcard.Field{Value: n.UnstructuredName})
		} else if n.DisplayName != "" {
			add("FN", &vcard.Field{Value: n.DisplayName})
		}
		if n.FamilyName+n.GivenName+n.MiddleName+n.HonorificPrefix+n.HonorificSuffix != "" {
			add("N", &vcard.Field{Value: mvcard.JoinComponents(n.FamilyName, n.GivenName, n.MiddleName, n.HonorificPrefix, n.HonorificSuffix)})
		}
		for k, v := range map[string]string{"X-PHONETIC-FIRST-NAME": n.PhoneticGivenName, "X-PHONETIC-MIDDLE-NAME": n.PhoneticMiddleName, "X-PHONETIC-LAST-NAME": n.PhoneticFamilyName} {
			if v != "" {
				add(k, &vcard.Field{Value: v})
			}
		}
	}
	if len(p.Nicknames) > 0 {
		var ns []string
		for _, n := range p.Nicknames {
			ns = append(ns, n.Value)
		}
		add("NICKNAME", &vcard.Field{Value: strings.Join(ns, ",")})
	}
	for _, ph := range p.PhoneNumbers {
		typed("TEL", kPhone, ph.Type, ph.Metadata, ph.Value)
	}
	for _, e := range p.EmailAddresses {
		typed("EMAIL", kEmail, e.Type, e.Metadata, e.Value)
	}
	for _, a := range p.Addresses {
		f := typed("ADR", kAddress, a.Type, a.Metadata, mvcard.JoinComponents(a.PoBox, a.ExtendedAddress, a.StreetAddress, a.City, a.Region, a.PostalCode, a.Country))
		if a.FormattedValue != "" {
			f.Params["LABEL"] = []string{a.FormattedValue}
		}
	}
	for _, o := range p.Organizations {
		if o.Name != "" || o.Department != "" || (o.Title == "" && o.JobDescription == "") {
			v := mvcard.JoinComponents(o.Name)
			if o.Department != "" {
				v += ";" + o.Department
			}
			add("ORG", &vcard.Field{Value: v})
		}
		if o.Title != "" {
			add("TITLE", &vcard.Field{Value: o.Title})
		}
		if o.JobDescription != "" {
			add("ROLE", &vcard.Field{Value: o.JobDescription})
		}
	}
	for i, b := range p.Birthdays {
		v := b.Text
		if b.Date != nil {
			v = formatDate(b.Date)
		}
		if i == 0 {
			add("BDAY", &vcard.Field{Value: v})
			continue
		}
		add("X-ANDROID-CUSTOM", &vcard.Field{Value: mvcard.JoinComponents("vnd.android.cursor.item/contact_event", v, "3")})
	}
	for _, e := range p.Events {
		if e.Date == nil {
			continue
		}
		if e.Type == "anniversary" {
			add("ANNIVERSARY", &vcard.Field{Value: formatDate(e.Date)})
			continue
		}
		add("X-ANDROID-CUSTOM", &vcard.Field{Value: mvcard.JoinComponents("vnd.android.cursor.item/contact_event", formatDate(e.Date), "0", e.Type)})
	}
	for _, u := range p.Urls {
		typed("URL", kURL, u.Type, u.Metadata, u.Value)
	}
	for _, r := range p.Relations {
		f := &vcard.Field{Value: r.Person}
		if r.Type != "" {
			f.Params = vcard.Params{"TYPE": {r.Type}}
		}
		add("RELATED", f)
	}
	for _, im := range p.ImClients {
		f := typed("IMPP", kIM, im.Type, im.Metadata, imScheme(im.Protocol)+":"+im.Username)
		f.Params["X-SERVICE-TYPE"] = []string{im.Protocol}
	}
	for _, s := range p.SipAddresses {
		typed("X-SIP", kIM, s.Type, s.Metadata, s.Value)
	}
	if len(p.Biographies) > 0 {
		add("NOTE", &vcard.Field{Value: p.Biographies[0].Value})
	}
	if len(p.Genders) > 0 {
		v := map[string]string{"male": "M", "female": "F", "other": "O", "unknown": "U", "unspecified": "N"}[p.Genders[0].Value]
		if v == "" {
			v = "O;" + p.Genders[0].Value
		}
		add("GENDER", &vcard.Field{Value: v})
	}
	if len(x.Groups) > 0 {
		add("CATEGORIES", &vcard.Field{Value: strings.Join(x.Groups, ",")})
	}
	if x.Photo != nil && len(x.Photo.Data) > 0 {
		add("PHOTO", &vcard.Field{Value: "data:" + x.Photo.MIME + ";base64," + base64.StdEncoding.EncodeToString(x.Photo.Data)})
	}
	key := ""
	for _, cd := range p.ClientData {
		switch cd.Key {
		case ClientKey:
			key = cd.Value
		case uidKey:
			add("UID", &vcard.Field{Value: cd.Value})
		}
	}
	for _, u := range p.UserDefined {
		k, f := restore(u)
		add(k, f)
	}
	for _, fs := range card {
		for _, f := range fs {
			if len(f.Params) == 0 {
				f.Params = nil
			}
		}
	}
	if key == "" {
		key = mvcard.Key(card)
	}
	return mapping.Contact{Key: key, Card: card}
}

// restore turns a userDefined entry back into a field: ToPerson wrote the
// property head as the key. Entries a person made in Google Contacts
// ("Favourite colour") become X-GOOGLE-USERDEFINED with the key as LABEL.
func restore(u *peopleapi.UserDefined) (string, *vcard.Field) {
	// The "g." group keeps a key starting with '#' from reading as a
	// comment line.
	card := "BEGIN:VCARD\r\nVERSION:4.0\r\ng." + u.Key + ":x\r\nEND:VCARD\r\n"
	name, _, _ := strings.Cut(u.Key, ";")
	if !strings.ContainsAny(u.Key, "\r\n") && name != "" && name == strings.ToUpper(name) {
		for c, err := range mvcard.Decode(strings.NewReader(card), "userDefined") {
			if err != nil {
				break
			}
			for k, fs := range c.Card {
				if k == vcard.FieldVersion || len(fs) != 1 {
					continue
				}
				f := fs[0]
				f.Value, f.Group = u.Value, ""
				return k, f
			}
		}
	}
	return "X-GOOGLE-USERDEFINED", &vcard.Field{Value: u.Value, Params: vcard.Params{"LABEL": {u.Key}}}
}
