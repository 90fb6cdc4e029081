package people

import (
	"slices"
	"strings"

	"github.com/emersion/go-vcard"
)

// kind is a family of Person fields sharing one vocabulary of types.
type kind int

const (
	kPhone kind = iota
	kEmail
	kAddress
	kURL
	kIM
)

// standard lists the People API's predefined type values per kind; any
// other type string is a custom label, shown as written.
var standard = map[kind][]string{
	kPhone:   {"home", "work", "mobile", "homeFax", "workFax", "otherFax", "pager", "workMobile", "workPager", "main", "googleVoice", "other"},
	kEmail:   {"home", "work", "other"},
	kAddress: {"home", "work", "other"},
	kURL:     {"home", "work", "blog", "profile", "homePage", "ftp", "reservations", "appInstallPage", "other"},
	kIM:      {"home", "work", "other"},
}

// noise are vCard types that say nothing a label would: defaults (voice,
// internet) and PREF, which travels as sourcePrimary.
var noise = map[string]bool{"voice": true, "internet": true, "pref": true, "x400": false}

// appleLabel unwraps Apple's standard labels ("_$!<HomePage>!$_").
func appleLabel(s string) string {
	if strings.HasPrefix(s, "_$!<") && strings.HasSuffix(s, ">!$_") {
		return s[4 : len(s)-4]
	}
	return s
}

// typesOf returns a field's TYPE values, lower-cased, split on commas,
// without the ones that carry no meaning.
func typesOf(f *vcard.Field) []string {
	var out []string
	for _, v := range f.Params["TYPE"] {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" || noise[strings.ToLower(t)] {
				continue
			}
			out = append(out, t)
		}
	}
	return out
}

// groupLabels indexes the X-ABLABELs of a card by group (iOS, macOS and
// Gmail write custom labels that way), once per card so a card with many
// fields costs linear time.
func groupLabels(card vcard.Card) map[string]string {
	out := map[string]string{}
	for _, l := range card["X-ABLABEL"] {
		g := strings.ToLower(l.Group)
		if _, ok := out[g]; !ok && g != "" {
			out[g] = appleLabel(l.Value)
		}
	}
	return out
}

func groupLabel(labels map[string]string, f *vcard.Field) string {
	if f.Group == "" {
		return ""
	}
	return labels[strings.ToLower(f.Group)]
}

// label turns a field's vCard types (or its group's X-ABLABEL) into the
// People API type: a predefined value where one fits, else the custom
// label text.
func label(k kind, labels map[string]string, f *vcard.Field) string {
	if l := groupLabel(labels, f); l != "" {
		return canonical(k, l)
	}
	if raw := f.Params["TYPE"]; len(raw) == 1 && len(raw[0]) > 2 && strings.EqualFold(raw[0][:2], "X-") {
		// Android's custom label ("TEL;X-Work Mobile"), kept whole even
		// when it holds commas.
		return canonical(k, raw[0][2:])
	}
	var ts []string
	has := map[string]bool{}
	for _, t := range typesOf(f) {
		lt := strings.ToLower(t)
		has[lt] = true
		ts = append(ts, t)
	}
	if k == kPhone {
		switch {
		case has["fax"] && has["home"] && len(ts) == 2:
			return "homeFax"
		case has["fax"] && has["work"] && len(ts) == 2:
			return "workFax"
		case has["fax"] && len(ts) == 1:
			return "otherFax"
		case has["cell"] && has["work"] && len(ts) == 2:
			return "workMobile"
		case has["pager"] && has["work"] && len(ts) == 2:
			return "workPager"
		case has["cell"] && len(ts) == 1:
			return "mobile"
		}
	}
	if len(ts) == 1 {
		return canonical(k, strings.TrimPrefix(strings.TrimPrefix(ts[0], "X-"), "x-"))
	}
	for i, t := range ts {
		ts[i] = strings.TrimPrefix(strings.TrimPrefix(t, "X-"), "x-")
	}
	return strings.Join(ts, ", ")
}

// canonical returns the predefined spelling of a type when s is one
// (case-insensitively), else s itself.
func canonical(k kind, s string) string {
	for _, t := range standard[k] {
		if strings.EqualFold(t, s) {
			return t
		}
	}
	if k == kPhone && strings.EqualFold(s, "cell") {
		return "mobile"
	}
	return s
}

// vcardTypes are the type words vCard readers know: a predefined People
// type that is one of them is written bare.
var vcardTypes = []string{"home", "work", "cell", "fax", "pager", "voice", "msg", "bbs", "modem", "car", "isdn", "video", "pcs", "text", "textphone", "main", "iphone", "other", "postal", "parcel", "dom", "intl", "internet"}

// typesFor is the inverse of label: the TYPE values that read back as t.
func typesFor(k kind, t string) []string {
	switch t {
	case "":
		return nil
	case "mobile":
		return []string{"CELL"}
	case "homeFax":
		return []string{"HOME", "FAX"}
	case "workFax":
		return []string{"WORK", "FAX"}
	case "otherFax":
		return []string{"FAX"}
	case "workMobile":
		return []string{"WORK", "CELL"}
	case "workPager":
		return []string{"WORK", "PAGER"}
	}
	if slices.Contains(standard[k], t) {
		if slices.Contains(vcardTypes, strings.ToLower(t)) {
			return []string{strings.ToUpper(t)}
		}
		return []string{"X-" + t}
	}
	// A custom label, written the way Android writes one.
	return []string{"X-" + t}
}
