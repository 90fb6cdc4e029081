package vcard

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/mapping"
)

// miuiCard is what Android/MIUI Contacts export: 2.1, QP UTF-8 with a soft
// break, bare params, custom labels, phonetic names, X- IM fields and a
// photo ended by a blank line.
const miuiCard = "BEGIN:VCARD\r\n" +
	"VERSION:2.1\r\n" +
	"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B;=E5=B0=8F=E6=98=8E;;;\r\n" +
	"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B=E5=B0=8F=\r\n" +
	"=E6=98=8E\r\n" +
	"X-PHONETIC-FIRST-NAME:xiao ming\r\n" +
	"X-PHONETIC-LAST-NAME:wang\r\n" +
	"TEL;CELL;PREF:138 0013 8000\r\n" +
	"TEL;X-Work Mobile:+86 10 1234 5678\r\n" +
	"EMAIL;HOME:a@b.c\r\n" +
	"X-QQ:10001\r\n" +
	"X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Xiao;1;;;;;;;;;;;;;\r\n" +
	"X-MIUI-RINGTONE:content://media/x\r\n" +
	"PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQ\r\n" +
	" SkZJRg==\r\n" +
	"\r\n" +
	"END:VCARD\r\n"

func decodeAll(t *testing.T, s string, d *Decoder) ([]mapping.Contact, []error) {
	t.Helper()
	if d == nil {
		d = &Decoder{}
	}
	var cs []mapping.Contact
	var errs []error
	for c, err := range d.Decode(strings.NewReader(s), "test.vcf") {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs = append(cs, c)
	}
	return cs, errs
}

func TestDecodeAndroidExport(t *testing.T) {
	cs, errs := decodeAll(t, miuiCard, nil)
	if len(errs) > 0 || len(cs) != 1 {
		t.Fatalf("got %d cards, errors %v", len(cs), errs)
	}
	c := cs[0].Card
	checks := []struct{ name, got, want string }{
		{"QP name", c.Value("N"), "王;小明;;;"},
		{"QP soft break", c.Value("FN"), "王小明"},
		{"phonetic", c.Value("X-PHONETIC-FIRST-NAME"), "xiao ming"},
		{"bare TYPE", c["TEL"][0].Params.Get("TYPE"), "CELL"},
		{"PREF", c["TEL"][0].Params.Get("PREF"), "1"},
		{"custom label", c["TEL"][1].Params.Get("TYPE"), "X-Work Mobile"},
		{"EMAIL;HOME value", c.Value("EMAIL"), "a@b.c"},
		{"X-QQ", c.Value("X-QQ"), "10001"},
		{"X-ANDROID-CUSTOM", c.Value("X-ANDROID-CUSTOM"), "vnd.android.cursor.item/nickname;Xiao;1;;;;;;;;;;;;;"},
		{"unknown X- kept", c.Value("X-MIUI-RINGTONE"), "content://media/x"},
		{"photo", c.Value("PHOTO"), "data:image/jpeg;base64,/9j/4AAQSkZJRg=="},
		{"version", c.Value("VERSION"), "4.0"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if _, ok := c["TEL"][0].Params["ENCODING"]; ok {
		t.Error("ENCODING param kept after decoding")
	}
}

func TestDecodeCharsets(t *testing.T) {
	tests := []struct {
		name, card, want string
	}{
		{"GBK raw bytes", "BEGIN:VCARD\nVERSION:2.1\nFN;CHARSET=GBK:\xd5\xc5\xce\xb0\nEND:VCARD\n", "张伟"},
		{"Big5 quoted-printable", "BEGIN:VCARD\nVERSION:2.1\nFN;CHARSET=BIG5;ENCODING=QUOTED-PRINTABLE:=B3=AF=A4=6A=A4=E5\nEND:VCARD\n", "陳大文"},
		{"Shift_JIS in 3.0", "BEGIN:VCARD\nVERSION:3.0\nFN;CHARSET=SHIFT_JIS:\x88\xc0\x93\xa1\nEND:VCARD\n", "安藤"},
		{"Latin-1 without CHARSET", "BEGIN:VCARD\nVERSION:3.0\nFN:Jos\xe9\nEND:VCARD\n", "José"},
		{"one stray byte in UTF-8", "BEGIN:VCARD\nVERSION:3.0\nFN:Ñ\x80\nEND:VCARD\n", "Ñ€"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, errs := decodeAll(t, tt.card, nil)
			if len(errs) > 0 || len(cs) != 1 {
				t.Fatalf("got %d cards, errors %v", len(cs), errs)
			}
			if got := cs[0].Card.Value("FN"); got != tt.want {
				t.Errorf("FN = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMalformedCardNamesLineAndRestDecodes(t *testing.T) {
	in := "BEGIN:VCARD\nVERSION:3.0\nFN:One\nEND:VCARD\n" +
		"BEGIN:VCARD\nVERSION:3.0\nFN:Two\nthis line has no colon\nEND:VCARD\n" +
		"BEGIN:VCARD\nVERSION:3.0\nFN:Three\nEND:VCARD\n" +
		"BEGIN:VCARD\nVERSION:3.0\nFN:Four\n"
	cs, errs := decodeAll(t, in, nil)
	var names []string
	for _, c := range cs {
		names = append(names, c.Card.Value("FN"))
	}
	if strings.Join(names, ",") != "One,Three" {
		t.Errorf("decoded %v, want One,Three", names)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want 2", errs)
	}
	for i, want := range []string{"test.vcf line 8", "test.vcf line 14"} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %q does not name %q", errs[i], want)
		}
		if !errors.Is(errs[i], mapping.ErrBadInput) {
			t.Errorf("error %q does not wrap ErrBadInput", errs[i])
		}
	}
}

// endless yields n bytes of 'A' without holding them.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), e.n)
	for i := range p[:k] {
		p[i] = 'A'
	}
	e.n -= k
	return k, nil
}

// TestHugeLineIsBoundedAndSkipped: a 100 MB single line inside a card
// costs an error for that card only; the reader never holds it.
func TestHugeLineIsBoundedAndSkipped(t *testing.T) {
	r := io.MultiReader(
		strings.NewReader("BEGIN:VCARD\nVERSION:3.0\nFN:Big\nNOTE:"),
		&endless{n: 100 << 20},
		strings.NewReader("\nEND:VCARD\nBEGIN:VCARD\nVERSION:3.0\nFN:After\nEND:VCARD\n"),
	)
	var names []string
	var errs []error
	for c, err := range (&Decoder{MaxLine: 1 << 20}).Decode(r, "huge.vcf") {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, c.Card.Value("FN"))
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "huge.vcf line 4") || !strings.Contains(errs[0].Error(), "longer than") {
		t.Errorf("errors = %v, want one naming huge.vcf line 4", errs)
	}
	if strings.Join(names, ",") != "After" {
		t.Errorf("decoded %v, want After", names)
	}
}

func TestCardSizeCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\nVERSION:3.0\nFN:Many\n")
	for range 2000 {
		b.WriteString("NOTE:" + strings.Repeat("x", 100) + "\n")
	}
	b.WriteString("END:VCARD\nBEGIN:VCARD\nVERSION:3.0\nFN:Small\nEND:VCARD\n")
	cs, errs := decodeAll(t, b.String(), &Decoder{MaxCard: 64 << 10})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "larger than") {
		t.Errorf("errors = %v, want one card-size error", errs)
	}
	if len(cs) != 1 || cs[0].Card.Value("FN") != "Small" {
		t.Errorf("cards = %v, want Small only", cs)
	}
}

func TestDeepNestingIsAnError(t *testing.T) {
	in := strings.Repeat("BEGIN:VCARD\n", 20) + "FN:x\n" + strings.Repeat("END:VCARD\n", 20)
	_, errs := decodeAll(t, in, nil)
	if len(errs) == 0 {
		t.Fatal("no error for cards nested 20 deep")
	}
}

// TestSameCardAnyVersionSameKey: the key comes from the normalized model,
// so one contact exported as 2.1, 3.0 or 4.0 keeps one key.
func TestSameCardAnyVersionSameKey(t *testing.T) {
	versions := []string{
		"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;Jo;;;\r\nFN:Jo Doe\r\nTEL;CELL;PREF:123\r\nNOTE:a\\;b\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jo;;;\r\nFN:Jo Doe\r\nTEL;TYPE=CELL,PREF:123\r\nNOTE:a\\;b\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jo Doe\r\nN:Doe;Jo;;;\r\nTEL;TYPE=CELL;PREF=1:123\r\nNOTE:a;b\r\nEND:VCARD\r\n",
	}
	var keys []string
	for _, v := range versions {
		cs, errs := decodeAll(t, v, nil)
		if len(errs) > 0 || len(cs) != 1 {
			t.Fatalf("%q: %v", v, errs)
		}
		keys = append(keys, cs[0].Key)
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("keys differ across versions: %v", keys)
	}
	withUID, _ := decodeAll(t, strings.Replace(versions[0], "FN:", "UID:abc\r\nFN:", 1), nil)
	other, _ := decodeAll(t, "BEGIN:VCARD\nVERSION:4.0\nUID:abc\nFN:Else\nEND:VCARD\n", nil)
	if withUID[0].Key != other[0].Key {
		t.Errorf("same UID, different keys: %s %s", withUID[0].Key, other[0].Key)
	}
}

func TestMergeSamePerson(t *testing.T) {
	a, _ := decodeAll(t, "BEGIN:VCARD\nVERSION:4.0\nFN:Jo Doe\nTEL:+86 138 0013 8000\nBDAY:19800101\nEND:VCARD\n", nil)
	b, _ := decodeAll(t, "BEGIN:VCARD\nVERSION:2.1\nFN:jo  doe\nTEL;CELL:+8613800138000\nEMAIL:jo@x.y\nBDAY:19800102\nEND:VCARD\n", nil)
	c, _ := decodeAll(t, "BEGIN:VCARD\nVERSION:4.0\nFN:Jo Doe\nTEL:999\nEND:VCARD\n", nil)
	if !SamePerson(a[0], b[0]) {
		t.Error("same name and phone: not the same person")
	}
	if SamePerson(a[0], c[0]) {
		t.Error("same name, nothing else shared: called the same person")
	}
	m := Merge(a[0], b[0])
	if m.Key != a[0].Key {
		t.Error("merge changed the key")
	}
	if n := len(m.Card["TEL"]); n != 1 {
		t.Errorf("TEL fields = %d, want 1 (same number, two spellings)", n)
	}
	if m.Card.Value("EMAIL") != "jo@x.y" {
		t.Error("e-mail from the second source lost")
	}
	if m.Card.Value("BDAY") != "19800101" || m.Card.Value("X-MIEXIT-MERGED-BDAY") != "19800102" {
		t.Errorf("BDAY %q, merged %q", m.Card.Value("BDAY"), m.Card.Value("X-MIEXIT-MERGED-BDAY"))
	}
}

func TestEncode3And4(t *testing.T) {
	cs, _ := decodeAll(t, miuiCard, nil)
	var b4, b3 bytes.Buffer
	if err := Encode(&b4, cs[0].Card, V4); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&b3, cs[0].Card, V3); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"VERSION:4.0\r\n", "TEL;PREF=1;TYPE=CELL:138 0013 8000\r\n", `TEL;TYPE="X-Work Mobile":`, "PHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRg==\r\n"} {
		if !strings.Contains(b4.String(), want) {
			t.Errorf("4.0 output lacks %q:\n%s", want, b4.String())
		}
	}
	for _, want := range []string{"VERSION:3.0\r\n", "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg==\r\n", "TYPE=CELL,pref"} {
		if !strings.Contains(b3.String(), want) {
			t.Errorf("3.0 output lacks %q:\n%s", want, b3.String())
		}
	}
	for _, l := range strings.Split(b4.String(), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line longer than 75 octets: %q", l)
		}
	}
	if err := Encode(io.Discard, vcard.Card{}, "2.1"); err == nil {
		t.Error("Encode 2.1 did not fail")
	}
}

// BenchmarkDecodeAndroid decodes 1,000 Android 2.1 cards per iteration.
func BenchmarkDecodeAndroid(b *testing.B) {
	in := strings.Repeat(miuiCard, 1000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		n := 0
		for _, err := range Decode(strings.NewReader(in), "bench.vcf") {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 1000 {
			b.Fatalf("%d cards", n)
		}
	}
}
