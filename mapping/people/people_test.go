package people

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/internal/corpus"
	"github.com/miexit/miexit/mapping"
	mvcard "github.com/miexit/miexit/mapping/vcard"
)

func corpusDir(t testing.TB, sub string) string { return corpus.Dir(t, sub) }

func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// checkContact maps one contact to a Person and back and returns what was
// lost without being reported.
func checkContact(c mapping.Contact) []string {
	var problems []string
	r := ToPerson(c)
	pj, _ := json.Marshal(r.Person)
	placed := map[string]Placement{}
	for _, p := range r.Placements {
		if _, dup := placed[p.Field]; dup {
			problems = append(problems, p.Field+" placed twice")
		}
		placed[p.Field] = p
	}
	back := FromPerson(r.Person, r.Extras)
	for k, fs := range c.Card {
		for i, f := range fs {
			id := fmt.Sprintf("%s[%d]", k, i)
			p, ok := placed[id]
			if !ok {
				problems = append(problems, id+" went nowhere")
				continue
			}
			switch {
			case strings.HasPrefix(p.To, "userDefined"):
				// Moved: FromPerson must give it back, value and parameters.
				found := false
				for _, g := range back.Card[k] {
					if g.Value == f.Value && reflect.DeepEqual(g.Params, f.Params) {
						found = true
					}
				}
				if !found {
					problems = append(problems, id+" moved to "+p.To+" but not restored")
				}
			case k == "PHOTO":
				if r.Photo == nil || !strings.HasSuffix(f.Value, ";base64,"+encode64(r.Photo.Data)) {
					problems = append(problems, id+": photo bytes differ")
				}
			case k == "VERSION", k == "X-ABLABEL", k == "CATEGORIES", k == "X-ANDROID-CUSTOM",
				k == "BDAY", k == "ANNIVERSARY", k == "X-ANNIVERSARY", k == "X-ABDATE", k == "IMPP":
				// Checked by the Person round trip below.
			default:
				comps := mvcard.Components(f.Value)
				switch k {
				case "ORG":
					if len(comps) > 1 {
						comps = []string{comps[0], mvcard.JoinComponents(comps[1:]...)}
					}
				case "NICKNAME":
					comps = strings.Split(f.Value, ",")
				default:
					if !mvcard.IsStructured(k, f.Params) {
						comps = []string{f.Value}
					}
				}
				for _, comp := range comps {
					comp = strings.TrimPrefix(comp, "tel:")
					if !strings.Contains(string(pj), jsonText(comp)) {
						problems = append(problems, fmt.Sprintf("%s: %q not in the Person", id, comp))
					}
				}
			}
		}
	}
	// Person -> model -> Person is a fixed point: the way back loses nothing.
	r2 := ToPerson(back)
	p2, _ := json.Marshal(r2.Person)
	if string(p2) != string(pj) {
		i := 0
		for i < len(pj) && i < len(p2) && pj[i] == p2[i] {
			i++
		}
		lo := max(0, i-80)
		problems = append(problems, fmt.Sprintf("Person changed on the way back at byte %d:\n      %s\n      %s", i, pj[lo:min(len(pj), i+80)], p2[lo:min(len(p2), i+80)]))
	}
	if !reflect.DeepEqual(r.Extras, r2.Extras) {
		problems = append(problems, "groups or photo changed on the way back")
	}
	return problems
}

// TestCorpusPersonFidelity: every card of every corpus file maps to a
// Person keeping every field or reporting where it went.
func TestCorpusPersonFidelity(t *testing.T) {
	dir := corpusDir(t, "vcard")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.vcf"))
	if len(files) < 70 {
		t.Fatalf("corpus has %d .vcf files", len(files))
	}
	var report []string
	failed := false
	movedTotal := 0
	for _, path := range files {
		rel := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n, moved := 0, 0
		var lines []string
		for c, err := range mvcard.Decode(f, rel) {
			if err != nil {
				failed = true
				lines = append(lines, "    decode: "+err.Error())
				continue
			}
			n++
			moved += len(ToPerson(c).Moved())
			for _, p := range checkContact(c) {
				failed = true
				lines = append(lines, fmt.Sprintf("    card %d: %s", n-1, p))
			}
		}
		f.Close()
		movedTotal += moved
		report = append(report, fmt.Sprintf("%-70s cards=%d moved-or-noted=%d%s", rel, n, moved, prefixNL(lines)))
	}
	if failed {
		t.Errorf("Person fidelity:\n%s", strings.Join(report, "\n"))
	}
	t.Logf("%d files; %d fields moved or noted (all reported)", len(files), movedTotal)
}

func prefixNL(ls []string) string {
	if len(ls) == 0 {
		return ""
	}
	return "\n" + strings.Join(ls, "\n")
}

const androidCard = "BEGIN:VCARD\r\nVERSION:2.1\r\n" +
	"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B;=E5=B0=8F=E6=98=8E;;;\r\n" +
	"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B=E5=B0=8F=E6=98=8E\r\n" +
	"X-PHONETIC-FIRST-NAME:xiao ming\r\nX-PHONETIC-LAST-NAME:wang\r\n" +
	"TEL;CELL;PREF:138 0013 8000\r\nTEL;X-Work Mobile:+86 10 1234 5678\r\nTEL;WORK;FAX:+86 10 8765\r\n" +
	"EMAIL;HOME:a@b.c\r\nADR;HOME:;;1 Road;Beijing;;100000;China\r\n" +
	"ORG:Xiaomi;Phones\r\nTITLE:Engineer\r\nBDAY:1990-05-01\r\n" +
	"X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Xiao;1;;;;;;;;;;;;;\r\n" +
	"X-ANDROID-CUSTOM:vnd.android.cursor.item/relation;Li Hua;14;;;;;;;;;;;;;\r\n" +
	"X-ANDROID-CUSTOM:vnd.android.cursor.item/contact_event;2015-10-01;1;;;;;;;;;;;;;\r\n" +
	"X-QQ:10001\r\nX-MIUI-RINGTONE;X-SOURCE=local:content://media/x\r\n" +
	"URL:https://mi.com\r\nNOTE:first\r\nNOTE:second\r\nCATEGORIES:Family,Work\r\n" +
	"PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQ\r\n\r\nEND:VCARD\r\n"

func TestAndroidCardToPerson(t *testing.T) {
	var c mapping.Contact
	for got, err := range mvcard.Decode(strings.NewReader(androidCard), "a.vcf") {
		if err != nil {
			t.Fatal(err)
		}
		c = got
	}
	r := ToPerson(c)
	p := r.Person
	n := p.Names[0]
	checks := []struct{ name, got, want string }{
		{"display", n.UnstructuredName, "王小明"},
		{"family", n.FamilyName, "王"},
		{"given", n.GivenName, "小明"},
		{"phonetic given", n.PhoneticGivenName, "xiao ming"},
		{"phonetic family", n.PhoneticFamilyName, "wang"},
		{"mobile", p.PhoneNumbers[0].Type, "mobile"},
		{"custom label", p.PhoneNumbers[1].Type, "Work Mobile"},
		{"work fax", p.PhoneNumbers[2].Type, "workFax"},
		{"email", p.EmailAddresses[0].Type, "home"},
		{"city", p.Addresses[0].City, "Beijing"},
		{"org", p.Organizations[0].Name + "/" + p.Organizations[0].Department + "/" + p.Organizations[0].Title, "Xiaomi/Phones/Engineer"},
		{"birthday", fmt.Sprint(p.Birthdays[0].Date.Year, p.Birthdays[0].Date.Month, p.Birthdays[0].Date.Day), "1990 5 1"},
		{"nickname", p.Nicknames[0].Value, "Xiao"},
		{"relation", p.Relations[0].Person + "/" + p.Relations[0].Type, "Li Hua/spouse"},
		{"anniversary", p.Events[0].Type, "anniversary"},
		{"qq", p.ImClients[0].Protocol + "/" + p.ImClients[0].Username, "qq/10001"},
		{"note", p.Biographies[0].Value, "first"},
		{"groups", strings.Join(r.Groups, ","), "Family,Work"},
		{"photo", r.Photo.MIME + fmt.Sprint(len(r.Photo.Data)), "image/jpeg6"},
		{"client key", p.ClientData[0].Key + "=" + p.ClientData[0].Value, ClientKey + "=" + c.Key},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if !p.PhoneNumbers[0].Metadata.SourcePrimary {
		t.Error("PREF phone is not sourcePrimary")
	}
	var moved []string
	for _, m := range r.Moved() {
		moved = append(moved, m.Field+"->"+m.To)
	}
	want := []string{"NOTE[1]->userDefined[0]", "VERSION[0]->dropped", "X-MIUI-RINGTONE[0]->userDefined[1]"}
	if !reflect.DeepEqual(moved, want) {
		t.Errorf("moved = %v, want %v", moved, want)
	}
	back := FromPerson(p, r.Extras)
	if back.Key != c.Key {
		t.Errorf("key %s came back as %s", c.Key, back.Key)
	}
	rt := back.Card["X-MIUI-RINGTONE"]
	if len(rt) != 1 || rt[0].Value != "content://media/x" || rt[0].Params.Get("X-SOURCE") != "local" {
		t.Errorf("X-MIUI-RINGTONE came back as %+v", rt)
	}
	if got := back.Card["TEL"][1].Params["TYPE"]; !reflect.DeepEqual(got, []string{"X-Work Mobile"}) {
		t.Errorf("custom label came back as %v", got)
	}
	if problems := checkContact(c); len(problems) > 0 {
		t.Errorf("fidelity: %v", problems)
	}
}

func TestUserMadeCustomFieldComesBackLabelled(t *testing.T) {
	r := ToPerson(mapping.Contact{Card: vcard.Card{"FN": {{Value: "A"}}}})
	r.Person.UserDefined = append(r.Person.UserDefined, userDefined("Favourite colour", "blue"))
	back := FromPerson(r.Person, r.Extras)
	f := back.Card["X-GOOGLE-USERDEFINED"]
	if len(f) != 1 || f[0].Value != "blue" || f[0].Params.Get("LABEL") != "Favourite colour" {
		t.Errorf("got %+v", f)
	}
}
