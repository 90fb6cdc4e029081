package adb

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"
)

func TestReadVCFPhotos(t *testing.T) {
	photo := bytes.Repeat([]byte("\xff\xd8\xff\xe0 photo bytes "), 20)
	b64 := base64.StdEncoding.EncodeToString(photo)
	// Android's 2.1 export: quoted-printable UTF-8 names with soft breaks,
	// base64 folded with a leading space and ended by a blank line.
	var folded strings.Builder
	for i := 0; i < len(b64); i += 76 {
		folded.WriteString(" " + b64[i:min(i+76, len(b64))] + "\r\n")
	}
	v21 := "BEGIN:VCARD\r\nVERSION:2.1\r\n" +
		"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B;=E5=B0=8F=E6=98=8E;;;\r\n" +
		"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E7=8E=8B=E5=B0=8F=\r\n=E6=98=8E\r\n" +
		"TEL;CELL:138 0013 8000\r\n" +
		"PHOTO;ENCODING=BASE64;JPEG:" + folded.String() + "\r\n" +
		"END:VCARD\r\n" +
		// Unindented base64 continuation (older exports).
		"BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Alice Liddell\r\nEMAIL;HOME:Alice@Example.com\r\n" +
		"PHOTO;ENCODING=BASE64;TYPE=JPEG:" + b64[:40] + "\r\n" + b64[40:] + "\r\n\r\nEND:VCARD\r\n" +
		// 4.0 data URI, no phone: matched by name.
		"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob\r\nPHOTO:data:image/jpeg;base64," + b64 + "\r\nEND:VCARD\r\n" +
		// No photo: ignored.
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carol\r\nTEL:10086\r\nEND:VCARD\r\n"
	book, err := readVCFPhotos(strings.NewReader(v21))
	if err != nil {
		t.Fatal(err)
	}
	if book.n != 3 {
		t.Fatalf("%d cards with photos, want 3", book.n)
	}
	card := func(fn, tel, email string) vcard.Card {
		c := vcard.Card{}
		c.SetValue(vcard.FieldFormattedName, fn)
		if tel != "" {
			c.AddValue(vcard.FieldTelephone, tel)
		}
		if email != "" {
			c.AddValue(vcard.FieldEmail, email)
		}
		return c
	}
	tests := []struct {
		name string
		card vcard.Card
		want bool
	}{
		{"country code is not guessed", card("Xiaoming", "+8613800138000", ""), false},
		{"by phone, same digits", card("Xiaoming", "13800138000", ""), true},
		{"by e-mail, case folded", card("A.", "", "alice@example.com"), true},
		{"by unique name", card("bob", "", ""), true},
		{"quoted-printable CJK name", card("王小明", "", ""), true},
		{"no match", card("Dave", "999", ""), false},
		{"card without photo", card("Carol", "10086", ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := book.match(tc.card)
			if (got != nil) != tc.want {
				t.Fatalf("match = %v, want %v", got != nil, tc.want)
			}
			if got != nil && !bytes.Equal(got, photo) {
				t.Errorf("photo bytes differ")
			}
		})
	}
}
