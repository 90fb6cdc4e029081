package micloud

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/mapping"
)

// typed is a {type, value} entry of a contact list field.
type typed struct {
	Type      string `json:"type"`
	Value     string `json:"value"`
	Formatted string `json:"formatted"`
	Company   string `json:"company"`
	Title     string `json:"title"`
}

// telTypes maps the service's phone types to vCard TYPE values.
var telTypes = map[string]string{"mobile": "cell", "home": "home", "work": "work", "fax_work": "fax", "fax_home": "fax",
	"pager": "pager", "main": "voice", "other": "voice"}

// structured makes a value safe as one component of a structured vCard
// value: go-vcard escapes commas and newlines but not semicolons.
func structured(s string) string { return strings.ReplaceAll(s, ";", ",") }

// contactCard turns one contact of the service into a vCard. Fields with
// no vCard home are kept as X-MICLOUD-<NAME> holding the JSON, so nothing
// the service returned is lost.
func contactCard(id string, rec contactRecord, groups map[string]string) (mapping.Contact, error) {
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "4.0")
	keys := make([]string, 0, len(rec.Content))
	for k := range rec.Content {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var name struct {
		Formatted  string `json:"formatted"`
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
		MiddleName string `json:"middleName"`
		Prefix     string `json:"honorificPrefix"`
		Suffix     string `json:"honorificSuffix"`
	}
	display := ""
	list := func(k string) ([]typed, error) {
		var v []typed
		if err := json.Unmarshal(rec.Content[k], &v); err != nil {
			return nil, fmt.Errorf("%w: contact %s: field %s: %v", mapping.ErrBadInput, id, k, err)
		}
		return v, nil
	}
	for _, k := range keys {
		raw := rec.Content[k]
		switch k {
		case "displayName":
			json.Unmarshal(raw, &display)
		case "name":
			if err := json.Unmarshal(raw, &name); err != nil {
				return mapping.Contact{}, fmt.Errorf("%w: contact %s: name: %v", mapping.ErrBadInput, id, err)
			}
		case "phoneNumbers", "emails", "addresses", "ims", "organizations", "events", "groups", "urls", "websites":
			vs, err := list(k)
			if err != nil {
				return mapping.Contact{}, err
			}
			for _, v := range vs {
				addListField(card, k, v, groups)
			}
		case "notes", "note":
			var s string
			if json.Unmarshal(raw, &s) == nil {
				card.AddValue(vcard.FieldNote, s)
			} else {
				card.AddValue("X-MICLOUD-"+strings.ToUpper(k), string(raw))
			}
		case "nickname":
			var s string
			if json.Unmarshal(raw, &s) == nil {
				card.AddValue(vcard.FieldNickname, s)
			} else {
				card.AddValue("X-MICLOUD-NICKNAME", string(raw))
			}
		default:
			card.AddValue("X-MICLOUD-"+strings.ToUpper(k), string(raw))
		}
	}
	if name.GivenName != "" || name.FamilyName != "" || name.MiddleName != "" {
		card.SetName(&vcard.Name{FamilyName: structured(name.FamilyName), GivenName: structured(name.GivenName),
			AdditionalName: structured(name.MiddleName), HonorificPrefix: structured(name.Prefix), HonorificSuffix: structured(name.Suffix)})
	}
	fn := firstNonEmpty(display, name.Formatted, strings.TrimSpace(name.GivenName+" "+name.FamilyName),
		card.Value(vcard.FieldTelephone), card.Value(vcard.FieldEmail), card.Value(vcard.FieldOrganization))
	card.SetValue(vcard.FieldFormattedName, fn)
	card.SetValue(vcard.FieldUID, "micloud-"+id)
	return mapping.Contact{Key: "micloud-contact-" + id, Card: card}, nil
}

func addListField(card vcard.Card, k string, v typed, groups map[string]string) {
	params := vcard.Params{}
	if t := strings.ToLower(v.Type); t != "" {
		switch k {
		case "phoneNumbers":
			if m, ok := telTypes[t]; ok {
				t = m
			}
		}
		params.Add(vcard.ParamType, t)
	}
	switch k {
	case "phoneNumbers":
		card.Add(vcard.FieldTelephone, &vcard.Field{Value: v.Value, Params: params})
	case "emails":
		card.Add(vcard.FieldEmail, &vcard.Field{Value: v.Value, Params: params})
	case "urls", "websites":
		card.Add(vcard.FieldURL, &vcard.Field{Value: v.Value, Params: params})
	case "addresses":
		a := &vcard.Address{Field: &vcard.Field{Params: params}, StreetAddress: structured(firstNonEmpty(v.Formatted, v.Value))}
		card.AddAddress(a)
	case "ims":
		card.Add(vcard.FieldIMPP, &vcard.Field{Value: firstNonEmpty(v.Type, "im") + ":" + v.Value, Params: params})
	case "organizations":
		if v.Company != "" {
			card.Add(vcard.FieldOrganization, &vcard.Field{Value: structured(v.Company)})
		}
		if v.Title != "" {
			card.Add(vcard.FieldTitle, &vcard.Field{Value: v.Title})
		}
	case "events":
		switch strings.ToLower(v.Type) {
		case "birthday":
			card.Add(vcard.FieldBirthday, &vcard.Field{Value: v.Value})
		case "anniversary":
			card.Add(vcard.FieldAnniversary, &vcard.Field{Value: v.Value})
		default:
			card.Add("X-MICLOUD-EVENT", &vcard.Field{Value: v.Value, Params: params})
		}
	case "groups":
		title := groups[v.Value]
		if title == "" {
			title = v.Value
		}
		var cats []string
		if card.Value(vcard.FieldCategories) != "" {
			cats = card.Categories()
		}
		card.SetCategories(append(cats, strings.ReplaceAll(title, ",", " ")))
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
