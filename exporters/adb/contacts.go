package adb

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/exporters/adb/provider"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

const (
	contactsData   = "content://com.android.contacts/data"
	contactsRaw    = "content://com.android.contacts/raw_contacts"
	contactsGroups = "content://com.android.contacts/groups"
	mimePrefix     = "vnd.android.cursor.item/"
)

// Numeric columns first: the free-text data columns come after them.
var dataCols = append([]string{"_id", "raw_contact_id", "contact_id", "is_primary", "mimetype"},
	"data1", "data2", "data3", "data4", "data5", "data6", "data7", "data8", "data9", "data10",
	"data11", "data12", "data13", "data14", "data15")

// deletedRaw lists raw contacts marked deleted (awaiting sync), which the
// phone no longer shows.
func (e *Exporter) deletedRaw(ctx context.Context) (map[int64]bool, error) {
	del := map[int64]bool{}
	q := provider.Query{URI: contactsRaw, Columns: []string{"_id", "deleted"}}
	err := e.query(ctx, q, func(r provider.Row) error {
		if r.Values[1] == "1" {
			del[r.ID] = true
		}
		return nil
	})
	return del, err
}

func (e *Exporter) countContacts(ctx context.Context) (int, error) {
	del, err := e.deletedRaw(ctx)
	if err != nil {
		return 0, err
	}
	ids := map[int64]bool{}
	photos := map[int64]bool{}
	q := provider.Query{URI: contactsData, Columns: []string{"_id", "raw_contact_id", "contact_id"}}
	if err := e.query(ctx, q, func(r provider.Row) error {
		raw, _ := strconv.ParseInt(r.Values[1], 10, 64)
		cid, err := strconv.ParseInt(r.Values[2], 10, 64)
		if err == nil && !del[raw] {
			ids[cid] = true
		}
		return nil
	}); err != nil {
		return 0, err
	}
	// Photo rows: counted with a filter, so no blob is printed.
	pq := provider.Query{URI: contactsData, Columns: []string{"_id", "raw_contact_id", "contact_id"}, Where: "mimetype='" + mimePrefix + "photo' AND data14 IS NOT NULL"}
	if err := e.query(ctx, pq, func(r provider.Row) error {
		raw, _ := strconv.ParseInt(r.Values[1], 10, 64)
		cid, _ := strconv.ParseInt(r.Values[2], 10, 64)
		if !del[raw] && ids[cid] {
			photos[cid] = true
		}
		return nil
	}); err != nil {
		return 0, err
	}
	pq.Where = "mimetype='" + mimePrefix + "photo' AND data15 IS NOT NULL"
	if err := e.query(ctx, pq, func(r provider.Row) error {
		raw, _ := strconv.ParseInt(r.Values[1], 10, 64)
		cid, _ := strconv.ParseInt(r.Values[2], 10, 64)
		if !del[raw] && ids[cid] {
			photos[cid] = true
		}
		return nil
	}); err != nil {
		return 0, err
	}
	e.mu.Lock()
	e.photos = len(photos)
	e.mu.Unlock()
	return len(ids), nil
}

// dataRow is one row of the contacts data table.
type dataRow struct {
	mime    string
	primary bool
	data    [16]string // data[1]..data[15]
	null    [16]bool
}

func (d *dataRow) get(i int) string {
	if d.null[i] {
		return ""
	}
	return d.data[i]
}

func (e *Exporter) exportContacts(ctx context.Context, w *snapshot.Writer) error {
	del, err := e.deletedRaw(ctx)
	if err != nil {
		return err
	}
	groups := map[string]string{}
	gq := provider.Query{URI: contactsGroups, Columns: []string{"_id", "deleted", "title"}}
	if err := e.query(ctx, gq, func(r provider.Row) error {
		if r.Values[1] != "1" && !r.Null[2] {
			groups[strconv.FormatInt(r.ID, 10)] = r.Values[2]
		}
		return nil
	}); err != nil {
		return err
	}
	// A person's rows are spread through the table; the table of one
	// phone's contacts is small enough to gather (tens of MB at most).
	byContact := map[int64][]*dataRow{}
	q := provider.Query{URI: contactsData, Columns: dataCols}
	if err := e.query(ctx, q, func(r provider.Row) error {
		raw, _ := strconv.ParseInt(r.Values[1], 10, 64)
		cid, err := strconv.ParseInt(r.Values[2], 10, 64)
		if err != nil || del[raw] {
			return nil
		}
		d := &dataRow{mime: strings.TrimPrefix(r.Values[4], mimePrefix), primary: r.Values[3] == "1"}
		for i := 1; i <= 15; i++ {
			d.data[i] = r.Values[4+i]
			d.null[i] = r.Null[4+i]
		}
		byContact[cid] = append(byContact[cid], d)
		return nil
	}); err != nil {
		return err
	}
	ids := make([]int64, 0, len(byContact))
	for id := range byContact {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var book *photoBook
	if hasPhoto(byContact) {
		var where string
		book, where, err = e.findPhotoBook(ctx)
		if err != nil {
			return err
		}
		if book != nil {
			e.log.Info("merging contact photos from a .vcf on the phone", "path", where, "cards_with_photo", book.n)
		}
	}
	photos := 0
	for _, id := range ids {
		card, photo := buildCard(byContact[id], groups)
		if photo {
			if p := book.match(card); p != nil {
				addPhoto(card, p)
			} else {
				photos++
			}
		}
		if err := w.AddContact(ctx, mapping.Contact{Key: fmt.Sprintf("contact-adb-%d", id), Card: card}); err != nil {
			return fmt.Errorf("contact %d: %w", id, err)
		}
	}
	e.mu.Lock()
	e.photos = photos
	e.mu.Unlock()
	if photos > 0 {
		e.log.Warn("contact photos not copied: Android serves them only to apps; export a .vcf from the Contacts app (Contacts > Settings > Import/export > Export to storage) and run again", "photo_not_copied", photos)
	}
	return nil
}

var phoneTypes = map[string]string{
	"1": vcard.TypeHome, "2": vcard.TypeCell, "3": vcard.TypeWork, "4": "fax,work", "5": "fax,home",
	"6": vcard.TypePager, "7": "other", "9": "car", "10": "work", "12": "main", "17": "cell,work", "18": "pager,work",
}

var emailTypes = map[string]string{"1": vcard.TypeHome, "2": vcard.TypeWork, "3": "other", "4": vcard.TypeCell}
var addrTypes = map[string]string{"1": vcard.TypeHome, "2": vcard.TypeWork, "3": "other"}

var imProtocols = map[string]string{"0": "aim", "1": "msnim", "2": "ymsgr", "3": "skype", "4": "qq", "5": "gtalk", "6": "icq", "7": "xmpp", "8": "netmeeting"}

var relationTypes = map[string]string{
	"1": "assistant", "2": "brother", "3": "child", "4": "domestic-partner", "5": "father", "6": "friend",
	"7": "manager", "8": "mother", "9": "parent", "10": "partner", "11": "referred-by", "12": "relative",
	"13": "sister", "14": "spouse",
}

func typed(value, typ, label string, pref bool) *vcard.Field {
	f := &vcard.Field{Value: value, Params: vcard.Params{}}
	for _, t := range strings.Split(typ, ",") {
		if t != "" {
			f.Params.Add(vcard.ParamType, t)
		}
	}
	if label != "" {
		f.Params.Add("LABEL", label)
	}
	if pref {
		f.Params.Set(vcard.ParamPreferred, "1")
	}
	return f
}

// buildCard turns one contact's data rows into a vCard; the bool reports
// a photo that could not be read.
func buildCard(rows []*dataRow, groups map[string]string) (vcard.Card, bool) {
	card := vcard.Card{}
	photo := false
	var cats, fn, notes []string
	named := false
	for _, d := range rows {
		v := d.get(1)
		switch d.mime {
		case "name":
			if named {
				continue
			}
			named = true
			if v != "" {
				fn = append(fn, v)
			}
			n := &vcard.Name{FamilyName: d.get(3), GivenName: d.get(2), AdditionalName: d.get(5), HonorificPrefix: d.get(4), HonorificSuffix: d.get(6)}
			if *n != (vcard.Name{}) {
				card.AddName(n)
			}
			for i, k := range map[int]string{7: "X-PHONETIC-FIRST-NAME", 8: "X-PHONETIC-MIDDLE-NAME", 9: "X-PHONETIC-LAST-NAME"} {
				if s := d.get(i); s != "" {
					card.AddValue(k, s)
				}
			}
		case "phone_v2":
			if v != "" {
				card.Add(vcard.FieldTelephone, typed(v, phoneTypes[d.get(2)], d.get(3), d.primary))
			}
		case "email_v2":
			if v != "" {
				card.Add(vcard.FieldEmail, typed(v, emailTypes[d.get(2)], d.get(3), d.primary))
			}
		case "postal-address_v2":
			a := &vcard.Address{StreetAddress: d.get(4), ExtendedAddress: d.get(6), PostOfficeBox: d.get(5), Locality: d.get(7), Region: d.get(8), PostalCode: d.get(9), Country: d.get(10)}
			if *a == (vcard.Address{Field: a.Field}) && v != "" {
				a.StreetAddress = v
			}
			a.Field = typed("", addrTypes[d.get(2)], v, d.primary)
			if *a != (vcard.Address{Field: a.Field}) {
				card.AddAddress(a)
			}
		case "organization":
			if v != "" || d.get(5) != "" {
				org := v
				if dep := d.get(5); dep != "" {
					org += ";" + dep
				}
				card.Add(vcard.FieldOrganization, &vcard.Field{Value: org})
			}
			if t := d.get(4); t != "" {
				card.AddValue(vcard.FieldTitle, t)
			}
		case "im":
			if v != "" {
				proto := imProtocols[d.get(5)]
				if proto == "" {
					proto = "x-" + strings.ToLower(strings.ReplaceAll(d.get(6), " ", "-"))
					if proto == "x-" {
						proto = "x-im"
					}
				}
				card.AddValue(vcard.FieldIMPP, proto+":"+v)
			}
		case "sip_address":
			if v != "" {
				card.AddValue(vcard.FieldIMPP, "sip:"+v)
			}
		case "nickname":
			if v != "" {
				card.AddValue(vcard.FieldNickname, v)
			}
		case "note":
			if v != "" {
				notes = append(notes, v)
			}
		case "website":
			if v != "" {
				card.AddValue(vcard.FieldURL, v)
			}
		case "contact_event":
			if v == "" {
				continue
			}
			switch d.get(2) {
			case "3":
				if card.Get(vcard.FieldBirthday) == nil {
					card.SetValue(vcard.FieldBirthday, v)
					continue
				}
			case "1":
				if card.Get(vcard.FieldAnniversary) == nil {
					card.SetValue(vcard.FieldAnniversary, v)
					continue
				}
			}
			label := d.get(3)
			if label == "" {
				label = map[string]string{"1": "anniversary", "2": "other", "3": "birthday"}[d.get(2)]
			}
			card.Add("X-ANDROID-EVENT", typed(v, "", label, false))
		case "relation":
			if v != "" {
				f := typed(v, relationTypes[d.get(2)], d.get(3), false)
				f.Params.Set(vcard.ParamValue, "text")
				card.Add(vcard.FieldRelated, f)
			}
		case "group_membership":
			if t := groups[v]; t != "" {
				cats = append(cats, t)
			}
		case "photo":
			if !d.null[14] || !d.null[15] {
				photo = true
			}
		case "identity":
		default:
			// Another app's row (messengers add them): kept, labelled with
			// its type, so nothing the phone showed is lost.
			if v != "" {
				card.Add("X-ANDROID-CUSTOM", &vcard.Field{Value: d.mime + ";" + v})
			}
		}
	}
	if len(cats) > 0 {
		sort.Strings(cats)
		card.SetCategories(cats)
	}
	if len(notes) > 0 {
		card.SetValue(vcard.FieldNote, strings.Join(notes, "\n"))
	}
	name := ""
	if len(fn) > 0 {
		name = fn[0]
	}
	for _, k := range []string{vcard.FieldOrganization, vcard.FieldTelephone, vcard.FieldEmail} {
		if name == "" {
			name = strings.Split(card.Value(k), ";")[0]
		}
	}
	card.SetValue(vcard.FieldFormattedName, name)
	return card, photo
}

func hasPhoto(byContact map[int64][]*dataRow) bool {
	for _, rows := range byContact {
		for _, d := range rows {
			if d.mime == "photo" && (!d.null[14] || !d.null[15]) {
				return true
			}
		}
	}
	return false
}
