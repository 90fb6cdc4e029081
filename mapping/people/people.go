// Package people maps miexit's contact model (a vCard 4.0 card) to and from
// the Google People API's Person. Every field of a card either lands in a
// Person field or is moved somewhere Person can hold it (userDefined, the
// biography) and reported, so a report can say where each thing went.
package people

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-vcard"
	peopleapi "google.golang.org/api/people/v1"

	"github.com/miexit/miexit/mapping"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

// ClientKey is the clientData key holding miexit's contact key, so a
// re-run finds the contact it created before.
const ClientKey = "miexit-key"

// PersonFields is the personFields mask that reads back everything
// ToPerson writes (connections.list, people.get, createContact's answer).
const PersonFields = "names,nicknames,phoneNumbers,emailAddresses,addresses,organizations,birthdays,events," +
	"urls,relations,imClients,sipAddresses,biographies,genders,userDefined,clientData,memberships,photos,metadata"

// uidKey keeps the card's UID, which Person has no field for.
const uidKey = "vcard-uid"

// Photo is a contact picture, uploaded with people.updateContactPhoto after
// the contact exists (Person.photos is output-only).
type Photo struct {
	MIME string
	Data []byte
}

// Extras are what travels beside a Person: labels (contact groups, by name,
// which the importer resolves to contactGroups resource names) and the photo.
type Extras struct {
	Groups []string
	Photo  *Photo
}

// Placement says where one field of the card went: Field is "TEL[1]",
// To a Person path such as "phoneNumbers[0]" or "userDefined[2]", and Note
// says what did not fit, if anything.
type Placement struct {
	Field string
	To    string
	Note  string
}

// Moved reports whether the field went somewhere other than its natural
// Person field (userDefined, the biography, clientData) or was dropped.
func (p Placement) Moved() bool {
	return strings.HasPrefix(p.To, "userDefined") || strings.HasPrefix(p.To, "clientData") || p.To == "dropped"
}

// Result is a contact mapped to a Person.
type Result struct {
	Person *peopleapi.Person
	Extras
	// Placements lists every field of the card and where it went.
	Placements []Placement
}

// Moved returns the placements of fields that had no natural home.
func (r Result) Moved() []Placement {
	var out []Placement
	for _, p := range r.Placements {
		if p.Moved() || p.Note != "" {
			out = append(out, p)
		}
	}
	return out
}

// imProps are the X- properties Android and others write for IM accounts,
// with the People API protocol each stands for.
var imProps = map[string]string{
	"X-AIM": "aim", "X-MSN": "msn", "X-YAHOO": "yahoo", "X-SKYPE": "skype",
	"X-SKYPE-USERNAME": "skype", "X-QQ": "qq", "X-GOOGLE-TALK": "googleTalk",
	"X-GTALK": "googleTalk", "X-ICQ": "icq", "X-JABBER": "jabber",
	"X-NETMEETING": "netMeeting", "X-GADUGADU": "gaduGadu", "X-WECHAT": "wechat",
}

// imSchemes maps IMPP URI schemes to protocols.
var imSchemes = map[string]string{
	"aim": "aim", "msn": "msn", "msnim": "msn", "ymsgr": "yahoo", "skype": "skype",
	"qq": "qq", "xmpp": "jabber", "gtalk": "googleTalk", "icq": "icq",
}

// androidRelation and androidEvent are ContactsContract type codes used by
// X-ANDROID-CUSTOM rows.
var androidRelation = map[string]string{
	"1": "assistant", "2": "brother", "3": "child", "4": "domesticPartner", "5": "father",
	"6": "friend", "7": "manager", "8": "mother", "9": "parent", "10": "partner",
	"11": "referredBy", "12": "relative", "13": "sister", "14": "spouse",
}
var androidEvent = map[string]string{"1": "anniversary", "2": "other", "3": "birthday"}

type mapper struct {
	used    map[string]bool // single-valued Person homes already taken
	labels  map[string]string
	grouped map[string]int // fields per (lower-cased) group, X-ABLABEL aside
	// firstLabel is the X-ABLABEL of each group that labels it.
	firstLabel map[string]*vcard.Field
	card       vcard.Card
	p          *peopleapi.Person
	r          *Result
	name       *peopleapi.Name
}

func (m *mapper) place(field, to, note string) {
	m.r.Placements = append(m.r.Placements, Placement{Field: field, To: to, Note: note})
}

func (m *mapper) nameField() *peopleapi.Name {
	if m.name == nil {
		m.name = &peopleapi.Name{}
		m.p.Names = append(m.p.Names, m.name)
	}
	return m.name
}

func primary(f *vcard.Field) *peopleapi.FieldMetadata {
	if f.Params.Get("PREF") != "" {
		return &peopleapi.FieldMetadata{SourcePrimary: true}
	}
	for _, t := range f.Params["TYPE"] {
		if strings.EqualFold(t, "pref") {
			return &peopleapi.FieldMetadata{SourcePrimary: true}
		}
	}
	return nil
}

// lostParams names the parameters a mapped field had that its Person field
// cannot hold (TYPE and PREF travel as type and sourcePrimary).
func lostParams(f *vcard.Field, kept ...string) string {
	var lost []string
	for k := range f.Params {
		if k == "TYPE" || k == "PREF" || slices.Contains(kept, k) {
			continue
		}
		lost = append(lost, k)
	}
	if len(lost) == 0 {
		return ""
	}
	slices.Sort(lost)
	return "parameters not kept: " + strings.Join(lost, ", ")
}

func allParams(f *vcard.Field) string {
	if len(f.Params) == 0 {
		return ""
	}
	return "parameters: " + mvcard.FormatHead("X", f.Params)[1:]
}

// ToPerson maps a contact to a Person for people.createContact.
func ToPerson(c mapping.Contact) Result {
	r := Result{Person: &peopleapi.Person{}}
	m := &mapper{card: c.Card, p: r.Person, r: &r, used: map[string]bool{},
		labels: groupLabels(c.Card), grouped: map[string]int{}, firstLabel: map[string]*vcard.Field{}}
	for _, l := range c.Card["X-ABLABEL"] {
		if g := strings.ToLower(l.Group); m.firstLabel[g] == nil {
			m.firstLabel[g] = l
		}
	}
	for k, fs := range c.Card {
		for _, f := range fs {
			if k != "X-ABLABEL" && f.Group != "" {
				m.grouped[strings.ToLower(f.Group)]++
			}
		}
	}
	if c.Key != "" {
		r.Person.ClientData = append(r.Person.ClientData, &peopleapi.ClientData{Key: ClientKey, Value: c.Key})
	}
	orgs := 0
	titles, roles := 0, 0
	for _, k := range props(c.Card) {
		for i, f := range c.Card[k] {
			id := fmt.Sprintf("%s[%d]", k, i)
			empty := f.Value == "" || (mvcard.IsStructured(k, f.Params) && strings.Trim(f.Value, ";") == "")
			if k != "VERSION" && empty {
				m.place(id, "dropped", strings.TrimSuffix("empty value; "+allParams(f), "; "))
				continue
			}
			if m.mapField(k, id, f, &orgs, &titles, &roles) {
				m.used[k] = true
			} else {
				m.move(id, k, f)
			}
		}
	}
	if n := m.name; n != nil && n.UnstructuredName+n.FamilyName+n.GivenName+n.MiddleName+n.HonorificPrefix+
		n.HonorificSuffix+n.PhoneticFamilyName+n.PhoneticGivenName+n.PhoneticMiddleName == "" {
		// Only empty FN or N: nothing to send.
		r.Person.Names = nil
	}
	return r
}

// props lists a card's properties in a stable order.
func props(card vcard.Card) []string {
	var ks []string
	for k := range card {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// move puts a field with no home into userDefined: the key is the
// property with its parameters ("X-MIUI-RINGTONE;TYPE=x"), the value its
// model value, so FromPerson restores it.
func (m *mapper) move(id, k string, f *vcard.Field) {
	head := mvcard.FormatHead(k, f.Params)
	note := ""
	if f.Group != "" {
		note = "group " + f.Group + " not kept"
	}
	m.p.UserDefined = append(m.p.UserDefined, &peopleapi.UserDefined{Key: head, Value: f.Value})
	m.place(id, fmt.Sprintf("userDefined[%d]", len(m.p.UserDefined)-1), note)
}

func (m *mapper) mapField(k string, id string, f *vcard.Field, orgs, titles, roles *int) bool {
	p := m.p
	switch k {
	case "VERSION":
		m.place(id, "dropped", "vCard version: Person has none")
		return true
	case "X-ABLABEL":
		// Consumed as the label of the field in its group.
		g := strings.ToLower(f.Group)
		if f.Group == "" || m.grouped[g] == 0 || m.firstLabel[g] != f {
			// No field to label, or a second label: moved, not lost.
			return false
		}
		m.place(id, "type of the "+f.Group+" field", "")
		return true
	case "FN":
		if m.used[k] {
			return false
		}
		m.nameField().UnstructuredName = f.Value
		m.place(id, "names[0].unstructuredName", lostParams(f))
		return true
	case "N":
		cs := mvcard.Components(f.Value)
		if m.used[k] || len(cs) > 5 {
			return false
		}
		cs = append(cs, make([]string, 5-len(cs))...)
		n := m.nameField()
		n.FamilyName, n.GivenName, n.MiddleName, n.HonorificPrefix, n.HonorificSuffix = cs[0], cs[1], cs[2], cs[3], cs[4]
		m.place(id, "names[0]", lostParams(f))
		return true
	case "X-PHONETIC-FIRST-NAME", "X-PHONETIC-MIDDLE-NAME", "X-PHONETIC-LAST-NAME":
		n := m.nameField()
		dst := map[string]*string{"X-PHONETIC-FIRST-NAME": &n.PhoneticGivenName, "X-PHONETIC-MIDDLE-NAME": &n.PhoneticMiddleName, "X-PHONETIC-LAST-NAME": &n.PhoneticFamilyName}[k]
		if *dst != "" {
			return false
		}
		*dst = f.Value
		m.place(id, "names[0]."+map[string]string{"X-PHONETIC-FIRST-NAME": "phoneticGivenName", "X-PHONETIC-MIDDLE-NAME": "phoneticMiddleName", "X-PHONETIC-LAST-NAME": "phoneticFamilyName"}[k], lostParams(f))
		return true
	case "SOUND":
		// Japanese phones write the phonetic name as SOUND;X-IRMC-N, in
		// N's component order.
		if !strings.EqualFold(f.Params.Get("TYPE"), "X-IRMC-N") || len(f.Params) != 1 || len(f.Params["TYPE"]) != 1 {
			return false
		}
		n := m.nameField()
		cs := append(mvcard.Components(f.Value), "", "", "")
		if n.PhoneticFamilyName != "" || n.PhoneticGivenName != "" || n.PhoneticMiddleName != "" || strings.Join(cs[3:], "") != "" {
			return false
		}
		n.PhoneticFamilyName, n.PhoneticGivenName, n.PhoneticMiddleName = cs[0], cs[1], cs[2]
		m.place(id, "names[0].phonetic*", "written back as X-PHONETIC-*")
		return true
	case "NICKNAME":
		for _, v := range strings.Split(f.Value, ",") {
			if v != "" { // "a,,b": the empty one is nothing to keep
				p.Nicknames = append(p.Nicknames, &peopleapi.Nickname{Value: v})
			}
		}
		m.place(id, "nicknames", lostParams(f))
		return true
	case "TEL":
		if strings.HasPrefix(f.Value, "sip:") {
			p.SipAddresses = append(p.SipAddresses, &peopleapi.SipAddress{Value: f.Value, Type: label(kIM, m.labels, f), Metadata: primary(f)})
			m.place(id, fmt.Sprintf("sipAddresses[%d]", len(p.SipAddresses)-1), lostParams(f, "VALUE"))
			return true
		}
		note := lostParams(f, "VALUE")
		if strings.HasPrefix(f.Value, "tel:") {
			note = strings.TrimPrefix(strings.TrimPrefix(note+"; ", "; "), "; ") + "tel: URI written as a number"
		}
		p.PhoneNumbers = append(p.PhoneNumbers, &peopleapi.PhoneNumber{Value: strings.TrimPrefix(f.Value, "tel:"), Type: label(kPhone, m.labels, f), Metadata: primary(f)})
		m.place(id, fmt.Sprintf("phoneNumbers[%d]", len(p.PhoneNumbers)-1), note)
		return true
	case "EMAIL":
		p.EmailAddresses = append(p.EmailAddresses, &peopleapi.EmailAddress{Value: f.Value, Type: label(kEmail, m.labels, f), Metadata: primary(f)})
		m.place(id, fmt.Sprintf("emailAddresses[%d]", len(p.EmailAddresses)-1), lostParams(f))
		return true
	case "ADR":
		cs := mvcard.Components(f.Value)
		if len(cs) > 7 {
			return false
		}
		cs = append(cs, make([]string, 7-len(cs))...)
		p.Addresses = append(p.Addresses, &peopleapi.Address{PoBox: cs[0], ExtendedAddress: cs[1], StreetAddress: cs[2],
			City: cs[3], Region: cs[4], PostalCode: cs[5], Country: cs[6], FormattedValue: f.Params.Get("LABEL"),
			Type: label(kAddress, m.labels, f), Metadata: primary(f)})
		m.place(id, fmt.Sprintf("addresses[%d]", len(p.Addresses)-1), lostParams(f, "LABEL"))
		return true
	case "ORG":
		cs := mvcard.Components(f.Value)
		o := m.org(*orgs)
		*orgs++
		o.Name = cs[0]
		if len(cs) > 1 {
			o.Department = mvcard.JoinComponents(cs[1:]...)
		}
		m.place(id, fmt.Sprintf("organizations[%d]", *orgs-1), lostParams(f))
		return true
	case "TITLE", "ROLE":
		n := titles
		if k == "ROLE" {
			n = roles
		}
		o := m.org(*n)
		if k == "TITLE" {
			o.Title = f.Value
		} else {
			o.JobDescription = f.Value
		}
		*n++
		m.place(id, fmt.Sprintf("organizations[%d].%s", *n-1, map[string]string{"TITLE": "title", "ROLE": "jobDescription"}[k]), lostParams(f))
		return true
	case "BDAY":
		if m.used[k] {
			return false
		}
		b := &peopleapi.Birthday{}
		if d := parseDate(f.Value); d != nil {
			b.Date = d
		} else {
			b.Text = f.Value
		}
		p.Birthdays = append(p.Birthdays, b)
		m.place(id, "birthdays[0]", lostParams(f, "VALUE"))
		return true
	case "ANNIVERSARY", "X-ANNIVERSARY", "X-ABDATE":
		d := parseDate(f.Value)
		if d == nil {
			return false
		}
		t := "anniversary"
		if k == "X-ABDATE" {
			t = canonicalEvent(groupLabel(m.labels, f))
		}
		p.Events = append(p.Events, &peopleapi.Event{Date: d, Type: t})
		m.place(id, fmt.Sprintf("events[%d]", len(p.Events)-1), lostParams(f, "VALUE"))
		return true
	case "URL":
		p.Urls = append(p.Urls, &peopleapi.Url{Value: f.Value, Type: label(kURL, m.labels, f), Metadata: primary(f)})
		m.place(id, fmt.Sprintf("urls[%d]", len(p.Urls)-1), lostParams(f, "VALUE"))
		return true
	case "RELATED", "X-ABRELATEDNAMES", "X-SPOUSE", "X-MANAGER", "X-ASSISTANT":
		t := map[string]string{"X-SPOUSE": "spouse", "X-MANAGER": "manager", "X-ASSISTANT": "assistant"}[k]
		if t == "" {
			t = groupLabel(m.labels, f)
			if t == "" {
				t = strings.Join(typesOf(f), ", ")
			}
			t = canonicalRelation(t)
		}
		p.Relations = append(p.Relations, &peopleapi.Relation{Person: f.Value, Type: t})
		m.place(id, fmt.Sprintf("relations[%d]", len(p.Relations)-1), lostParams(f, "VALUE"))
		return true
	case "IMPP":
		scheme, user, ok := strings.Cut(f.Value, ":")
		if !ok {
			return false
		}
		if strings.EqualFold(scheme, "sip") {
			p.SipAddresses = append(p.SipAddresses, &peopleapi.SipAddress{Value: f.Value, Type: label(kIM, m.labels, f), Metadata: primary(f)})
			m.place(id, fmt.Sprintf("sipAddresses[%d]", len(p.SipAddresses)-1), lostParams(f))
			return true
		}
		proto := f.Params.Get("X-SERVICE-TYPE")
		if proto == "" {
			proto = imSchemes[strings.ToLower(scheme)]
		}
		if proto == "" || !strings.EqualFold(imScheme(canonicalIM(proto)), scheme) {
			return false // the scheme would not come back as written
		}
		p.ImClients = append(p.ImClients, &peopleapi.ImClient{Username: user, Protocol: canonicalIM(proto), Type: label(kIM, m.labels, f), Metadata: primary(f)})
		m.place(id, fmt.Sprintf("imClients[%d]", len(p.ImClients)-1), lostParams(f, "X-SERVICE-TYPE"))
		return true
	case "X-SIP":
		p.SipAddresses = append(p.SipAddresses, &peopleapi.SipAddress{Value: f.Value, Type: label(kIM, m.labels, f), Metadata: primary(f)})
		m.place(id, fmt.Sprintf("sipAddresses[%d]", len(p.SipAddresses)-1), lostParams(f))
		return true
	case "NOTE":
		if m.used[k] {
			return false
		}
		p.Biographies = append(p.Biographies, &peopleapi.Biography{Value: f.Value, ContentType: "TEXT_PLAIN"})
		m.place(id, "biographies[0]", lostParams(f))
		return true
	case "CATEGORIES":
		for _, g := range strings.Split(f.Value, ",") {
			if g = strings.TrimSpace(g); g != "" {
				m.r.Groups = append(m.r.Groups, g)
			}
		}
		m.place(id, "memberships (contact groups by name)", lostParams(f))
		return true
	case "PHOTO":
		if m.r.Photo != nil {
			return false
		}
		rest, ok := strings.CutPrefix(f.Value, "data:")
		mt, data, ok2 := strings.Cut(rest, ";base64,")
		if !ok || !ok2 {
			return false
		}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return false
		}
		m.r.Photo = &Photo{MIME: mt, Data: b}
		m.place(id, "photo (people.updateContactPhoto)", lostParams(f))
		return true
	case "GENDER":
		if m.used[k] {
			return false
		}
		cs := mvcard.Components(f.Value)
		v := map[string]string{"M": "male", "F": "female", "O": "other", "U": "unknown", "N": "unspecified"}[strings.ToUpper(cs[0])]
		if v == "" || len(cs) > 1 {
			return false
		}
		p.Genders = append(p.Genders, &peopleapi.Gender{Value: v})
		m.place(id, "genders[0]", lostParams(f))
		return true
	case "UID":
		if m.used[k] {
			return false
		}
		p.ClientData = append(p.ClientData, &peopleapi.ClientData{Key: uidKey, Value: f.Value})
		m.place(id, fmt.Sprintf("clientData[%d]", len(p.ClientData)-1), lostParams(f))
		return true
	case "X-ANDROID-CUSTOM":
		return m.androidCustom(id, f)
	}
	if proto, ok := imProps[k]; ok {
		p.ImClients = append(p.ImClients, &peopleapi.ImClient{Username: f.Value, Protocol: proto, Type: label(kIM, m.labels, f), Metadata: primary(f)})
		m.place(id, fmt.Sprintf("imClients[%d]", len(p.ImClients)-1), lostParams(f))
		return true
	}
	return false
}

func (m *mapper) org(i int) *peopleapi.Organization {
	for len(m.p.Organizations) <= i {
		m.p.Organizations = append(m.p.Organizations, &peopleapi.Organization{})
	}
	return m.p.Organizations[i]
}

// androidCustom maps the rows Android exports as X-ANDROID-CUSTOM:
// nickname, relation and contact_event; others are moved.
func (m *mapper) androidCustom(id string, f *vcard.Field) bool {
	if f.Params != nil {
		return false
	}
	cs := mvcard.Components(f.Value)
	for len(cs) < 4 {
		cs = append(cs, "")
	}
	for _, c := range cs[4:] {
		if c != "" {
			return false
		}
	}
	switch cs[0] {
	case "vnd.android.cursor.item/nickname":
		if cs[1] == "" {
			return false
		}
		m.p.Nicknames = append(m.p.Nicknames, &peopleapi.Nickname{Value: cs[1]})
		m.place(id, "nicknames", "")
		return true
	case "vnd.android.cursor.item/relation":
		t := androidRelation[cs[2]]
		if cs[2] == "0" {
			t = cs[3]
		}
		if t == "" {
			return false
		}
		m.p.Relations = append(m.p.Relations, &peopleapi.Relation{Person: cs[1], Type: t})
		m.place(id, fmt.Sprintf("relations[%d]", len(m.p.Relations)-1), "")
		return true
	case "vnd.android.cursor.item/contact_event":
		d := parseDate(cs[1])
		t := androidEvent[cs[2]]
		if cs[2] == "0" {
			t = cs[3]
		}
		if d == nil || t == "" {
			return false
		}
		if t == "birthday" {
			m.p.Birthdays = append(m.p.Birthdays, &peopleapi.Birthday{Date: d})
			m.place(id, fmt.Sprintf("birthdays[%d]", len(m.p.Birthdays)-1), "")
			return true
		}
		m.p.Events = append(m.p.Events, &peopleapi.Event{Date: d, Type: t})
		m.place(id, fmt.Sprintf("events[%d]", len(m.p.Events)-1), "")
		return true
	}
	return false
}

func canonicalEvent(s string) string {
	if strings.EqualFold(s, "anniversary") {
		return "anniversary"
	}
	if s == "" {
		return "other"
	}
	return s
}

var relationTypes = []string{"spouse", "child", "mother", "father", "parent", "brother", "sister", "friend", "relative", "domesticPartner", "manager", "assistant", "referredBy", "partner"}

func canonicalRelation(s string) string {
	for _, t := range relationTypes {
		if strings.EqualFold(t, s) || strings.EqualFold(strings.ReplaceAll(s, " ", ""), t) {
			return t
		}
	}
	if strings.EqualFold(s, "referred_by") {
		return "referredBy"
	}
	return s
}

var imProtocols = []string{"aim", "msn", "yahoo", "skype", "qq", "googleTalk", "icq", "jabber", "netMeeting"}

func canonicalIM(s string) string {
	for _, t := range imProtocols {
		if strings.EqualFold(t, s) {
			return t
		}
	}
	if strings.EqualFold(s, "gtalk") {
		return "googleTalk"
	}
	return s
}

// imScheme is the IMPP URI scheme FromPerson writes for a protocol.
func imScheme(proto string) string {
	switch proto {
	case "jabber", "googleTalk":
		return "xmpp"
	case "yahoo":
		return "ymsgr"
	}
	return strings.ToLower(proto)
}

var dateRE = regexp.MustCompile(`^(\d{4}|--)-?(\d{2})-?(\d{2})(?:T.*)?$`)

// parseDate reads the vCard date forms phones write: 19800101,
// 1980-01-01, --0101, --01-01, optionally with a time.
func parseDate(s string) *peopleapi.Date {
	m := dateRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil
	}
	d := &peopleapi.Date{}
	if m[1] != "--" {
		d.Year, _ = strconv.ParseInt(m[1], 10, 64)
	}
	d.Month, _ = strconv.ParseInt(m[2], 10, 64)
	d.Day, _ = strconv.ParseInt(m[3], 10, 64)
	if d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
		return nil
	}
	return d
}

func formatDate(d *peopleapi.Date) string {
	if d.Year == 0 {
		return fmt.Sprintf("--%02d%02d", d.Month, d.Day)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}
