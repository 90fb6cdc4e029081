package vcard

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/internal/corpus"
	"github.com/miexit/miexit/mapping"
)

func corpusDir(t testing.TB, sub string) string { return corpus.Dir(t, sub) }

func corpusFiles(t testing.TB) []string {
	dir := corpusDir(t, "vcard")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.vcf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 70 {
		t.Fatalf("corpus has %d .vcf files, want every one of the 79", len(files))
	}
	return files
}

func decodeFile(t testing.TB, path string) ([]mapping.Contact, []error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []mapping.Contact
	var errs []error
	for c, err := range Decode(f, filepath.Base(path)) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs = append(cs, c)
	}
	return cs, errs
}

func encodeString(t testing.TB, c vcard.Card, version string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, c, version); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// diffCards lists what differs between two cards, field by field.
func diffCards(a, b vcard.Card) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		fa, fb := a[k], b[k]
		if len(fa) != len(fb) {
			out = append(out, fmt.Sprintf("%s: %d fields, then %d", k, len(fa), len(fb)))
			continue
		}
		for i := range fa {
			if !reflect.DeepEqual(fa[i], fb[i]) {
				out = append(out, fmt.Sprintf("%s[%d]: %+v, then %+v", k, i, *fa[i], *fb[i]))
			}
		}
	}
	return out
}

// TestCorpusRoundTrip: every card of every corpus file decodes, and
// model -> vCard 4.0 (and 3.0) -> decode gives the same model.
func TestCorpusRoundTrip(t *testing.T) {
	var report []string
	failed := false
	for _, path := range corpusFiles(t) {
		rel := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		cs, errs := decodeFile(t, path)
		line := fmt.Sprintf("%-70s cards=%d errors=%d", rel, len(cs), len(errs))
		if len(cs) == 0 {
			failed = true
			line += " NO CARDS"
		}
		for _, e := range errs {
			failed = true
			line += "\n    decode error: " + e.Error()
		}
		for i, c := range cs {
			for _, v := range []string{V4, V3} {
				text := encodeString(t, c.Card, v)
				back, berrs := decodeFile(t, writeTemp(t, text))
				if len(berrs) > 0 || len(back) != 1 {
					failed = true
					line += fmt.Sprintf("\n    card %d %s: re-decode gave %d cards, errors %v", i, v, len(back), berrs)
					continue
				}
				if d := diffCards(c.Card, back[0].Card); len(d) > 0 {
					failed = true
					line += fmt.Sprintf("\n    card %d %s lost: %s", i, v, strings.Join(d, "; "))
				}
				if back[0].Key != c.Key {
					failed = true
					line += fmt.Sprintf("\n    card %d %s: key %s became %s", i, v, c.Key, back[0].Key)
				}
			}
		}
		report = append(report, line)
	}
	if failed {
		t.Errorf("corpus round trip:\n%s", strings.Join(report, "\n"))
	}
}

func writeTemp(t testing.TB, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "card.vcf")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCorpusValues states, from each card's text and the specs, what the
// tricky corpus cards must decode to.
func TestCorpusValues(t *testing.T) {
	dir := corpusDir(t, "vcard")
	type want struct {
		card        int
		prop, value string
		param       string // "KEY=v1,v2" the field must carry, if set
	}
	tests := []struct {
		name, file string
		wants      []want
		cards      int
	}{
		{"2.1 quoted-printable UTF-8 with soft line breaks", "ez-vcard/John_Doe_ANDROID.vcf", []want{
			{3, "N", "Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ Ñ;;;;", ""},
			{3, "TEL", "123456", "PREF=1"},
		}, 0},
		{"bare type params become TYPE", "aosp/v21_complicated.vcf", []want{
			{0, "TEL", "", "TYPE=WORK,VOICE"},
			{0, "ORG", `Gump Shrimp Co.;Sales Dept.\;Manager;Fish keeper`, ""},
		}, 1},
		{"Shift_JIS raw bytes", "aosp/v21_japanese_1.vcf", []want{
			{0, "N", "安藤ロイド;;;;", ""},
			{0, "SOUND", "ｱﾝﾄﾞｳﾛｲﾄﾞ;;;;", "TYPE=X-IRMC-N"},
		}, 1},
		{"Shift_JIS bytes holding 0x5C are not escapes", "aosp/v21_japanese_3.vcf", []want{
			{0, "FN", "伊能 圭一 伊予", ""},
		}, 1},
		{"Shift_JIS quoted-printable with soft breaks", "aosp/v21_japanese_2.vcf", []want{
			{0, "ADR", ";東京都渋谷区桜丘町26-1セルリアンタワー6階;;;;150-8512;", "TYPE=HOME"},
		}, 1},
		{"base64 photo without the blank line", "aosp/v21_base64_no_2_crlf.vcf", []want{
			{0, "PHOTO", "data:image/jpeg;base64,/9j/4QoPRXhpZgAATU0A", ""},
		}, 1},
		{"2.1 only escapes semicolons", "aosp/v21_backslash.vcf", []want{
			{0, "FN", `A;B\C;D:E\\`, ""},
		}, 1},
		{"unknown params survive with their case", "aosp/v21_x_param.vcf", []want{
			{0, "TEL", "1", "TYPE=X-CuStoMpRop"},
			{0, "EMAIL", "email2@example.com", ""},
		}, 1},
		{"quoted param value with comma and colon", "aosp/v30_comma_separated.vcf", []want{
			{0, "TEL", "1", "TYPE=COMMA,SEPARATED:INSIDE.DQUOTE"},
		}, 1},
		{"comment lines skipped, QP continuation starting with # kept", "aosp/v21_invalid_comment_line.vcf", []want{
			{0, "NOTE", "This is an (sharp ->#<- sharp) example. This message must NOT be ignored.", ""},
		}, 1},
		{"backslash-continued address lines", "aosp/v21_adr_multiple_line.vcf", []want{
			{0, "ADR", ";;Hermann v. Brevern\n9999999\nPackstation 999;Hamburg;;99999;Deutschland", ""},
		}, 1},
		{"nested cards all decode", "aosp/v21_nest.vcf", []want{
			{0, "N", "nest1", ""}, {1, "N", "nest2", ""}, {2, "TEL", "1", ""},
		}, 3},
		{"X-ANDROID-CUSTOM kept whole", "aosp/v21_android_custom_prop.vcf", []want{
			{0, "X-ANDROID-CUSTOM", "custom_mime1;1;2;3;4;5;6;7;8;9;10;11;12;13;14;15", ""},
		}, 1},
		// The writer left LABEL unquoted, so its first ':' ends the parameters.
		{"RFC 6868 caret in an unquoted LABEL", "ez-vcard/issue114.vcf", []want{
			{0, "ADR", " BHG01:", "LABEL=Dummy-Dummy-Strasse 1 61352 Bad Homburg\nGERMANY\""},
		}, 1},
		{"phonetic names and custom labels (Gmail)", "ez-vcard/gmail-single.vcf", []want{
			{0, "X-PHONETIC-FIRST-NAME", "Grregg", ""},
			{0, "X-ABLABEL", "GRAND_CENTRAL", ""},
		}, 1},
		{"ISO-8859-1 bytes without CHARSET", "ical4j-vcard/vcard-vCards-SAP.vcf", nil, 30},
		{"lower-case begin and VERSION not first", "ical4j-vcard/4b62872a-849-0.vcf", nil, 1},
		{"invalid base64 photo kept as written", "aosp/v21_malformed_photo.vcf", []want{
			{0, "PHOTO", "", "ENCODING=b"},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, errs := decodeFile(t, filepath.Join(dir, tt.file))
			if len(errs) > 0 {
				t.Fatalf("%s: %v", tt.file, errs)
			}
			if tt.cards > 0 && len(cs) != tt.cards {
				t.Fatalf("%s: %d cards, want %d", tt.file, len(cs), tt.cards)
			}
			for _, w := range tt.wants {
				if w.card >= len(cs) {
					t.Fatalf("%s: no card %d", tt.file, w.card)
				}
				found := false
				for _, f := range cs[w.card].Card[w.prop] {
					if w.value != "" && !strings.HasPrefix(f.Value, w.value) {
						continue
					}
					if w.param != "" {
						k, v, _ := strings.Cut(w.param, "=")
						got := strings.Join(f.Params[k], ",")
						if got != v {
							continue
						}
					}
					found = true
				}
				if !found {
					t.Errorf("%s card %d: no %s %q with %q; have %s", tt.file, w.card, w.prop, w.value, w.param, encodeString(t, cs[w.card].Card, V4))
				}
			}
		})
	}
}
