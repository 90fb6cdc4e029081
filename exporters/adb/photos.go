package adb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"path"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/mapping"
)

// Contact photos cannot be read with `content` (the provider serves them
// only through openAssetFile). A .vcf the person exported with the
// Contacts app carries them: it is found on the phone and its photos are
// merged into the contacts that have one, matched by phone, e-mail, or a
// name only one card holds.

// vcfFolders are where the Contacts app's export usually lands.
var vcfFolders = []string{"", "Download", "Documents", "MIUI/backup"}

const maxVCFLine = 16 << 20

// vcfCard is what a .vcf card offers for matching, and its photo.
type vcfCard struct {
	name   string
	phones []string
	emails []string
	photo  []byte
}

// photoBook holds the photos of a .vcf, indexed for matching.
type photoBook struct {
	byPhone map[string][]*vcfCard
	byEmail map[string][]*vcfCard
	byName  map[string][]*vcfCard
	n       int
}

func normName(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// readVCFPhotos keeps the cards of r that have a photo. It reads vCard
// 2.1 (Android's export: quoted-printable, folded base64), 3.0 and 4.0.
func readVCFPhotos(r io.Reader) (*photoBook, error) {
	b := &photoBook{byPhone: map[string][]*vcfCard{}, byEmail: map[string][]*vcfCard{}, byName: map[string][]*vcfCard{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxVCFLine)
	var (
		cur     *vcfCard
		prop    strings.Builder // the logical line being gathered
		inQP    bool
		lineNo  int
		pending bool
	)
	finish := func() error {
		if !pending {
			return nil
		}
		pending = false
		line := prop.String()
		prop.Reset()
		return b.property(&cur, line)
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case inQP:
			// A quoted-printable soft break: the value goes on.
			prop.WriteString("\n" + line)
			inQP = strings.HasSuffix(line, "=")
			continue
		case pending && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")):
			prop.WriteString(line[1:])
			continue
		case line == "":
			continue
		case pending && isBase64Continuation(prop.String(), line):
			// vCard 2.1 base64 lines need not be indented.
			prop.WriteString(line)
			continue
		}
		if err := finish(); err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		prop.WriteString(line)
		pending = true
		head, _, _ := strings.Cut(line, ":")
		inQP = strings.Contains(strings.ToUpper(head), "QUOTED-PRINTABLE") && strings.HasSuffix(line, "=")
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return b, nil
}

func isBase64Continuation(prop, line string) bool {
	head, _, _ := strings.Cut(prop, ":")
	h := strings.ToUpper(head)
	if !strings.Contains(h, "BASE64") && !strings.Contains(h, "ENCODING=B") {
		return false
	}
	if strings.Contains(line, ":") {
		return false
	}
	for _, c := range line {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func (b *photoBook) property(cur **vcfCard, line string) error {
	head, value, ok := strings.Cut(line, ":")
	if !ok {
		return nil // 2.1 files hold stray lines; nothing to take from them
	}
	parts := strings.Split(head, ";")
	name := strings.ToUpper(parts[0])
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	params := strings.ToUpper(strings.Join(parts[1:], ";"))
	if strings.Contains(params, "QUOTED-PRINTABLE") {
		dec, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(strings.ReplaceAll(value, "=\n", "=\r\n"))))
		if err == nil {
			value = string(dec)
		}
	}
	switch name {
	case "BEGIN":
		if strings.EqualFold(value, "VCARD") {
			*cur = &vcfCard{}
		}
	case "END":
		c := *cur
		*cur = nil
		if c == nil || len(c.photo) == 0 {
			return nil
		}
		b.n++
		for _, p := range c.phones {
			b.byPhone[p] = append(b.byPhone[p], c)
		}
		for _, e := range c.emails {
			b.byEmail[e] = append(b.byEmail[e], c)
		}
		if c.name != "" {
			b.byName[c.name] = append(b.byName[c.name], c)
		}
	}
	c := *cur
	if c == nil {
		return nil
	}
	switch name {
	case "FN":
		c.name = normName(value)
	case "N":
		if c.name == "" {
			f := strings.Split(value, ";")
			var given, family string
			if len(f) > 1 {
				given = f[1]
			}
			family = f[0]
			c.name = normName(strings.TrimSpace(given + " " + family))
		}
	case "TEL":
		if n := mapping.NormalizeAddress(strings.TrimPrefix(value, "tel:")); n != "" {
			c.phones = append(c.phones, n)
		}
	case "EMAIL":
		if value != "" {
			c.emails = append(c.emails, strings.ToLower(strings.TrimSpace(value)))
		}
	case "PHOTO":
		data := value
		if rest, ok := strings.CutPrefix(value, "data:"); ok {
			_, data, ok = strings.Cut(rest, ",")
			if !ok {
				return nil
			}
		} else if !strings.Contains(params, "BASE64") && !strings.Contains(params, "ENCODING=B") {
			return nil // a URL: nothing to copy
		}
		raw, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, data))
		if err != nil {
			return nil // a damaged photo is left out, the rest still counts
		}
		c.photo = raw
	}
	return nil
}

// match finds the photo for a contact: a card sharing a phone number or
// e-mail address, else the only card with the same name.
func (b *photoBook) match(card vcard.Card) []byte {
	if b == nil {
		return nil
	}
	unique := func(cs []*vcfCard) []byte {
		if len(cs) == 0 {
			return nil
		}
		for _, c := range cs[1:] {
			if !bytes.Equal(c.photo, cs[0].photo) {
				return nil
			}
		}
		return cs[0].photo
	}
	for _, f := range card[vcard.FieldTelephone] {
		if p := unique(b.byPhone[mapping.NormalizeAddress(f.Value)]); p != nil {
			return p
		}
	}
	for _, f := range card[vcard.FieldEmail] {
		if p := unique(b.byEmail[strings.ToLower(strings.TrimSpace(f.Value))]); p != nil {
			return p
		}
	}
	return unique(b.byName[normName(card.Value(vcard.FieldFormattedName))])
}

// addPhoto puts the photo into the card as a data URI (vCard 4.0).
func addPhoto(card vcard.Card, photo []byte) {
	mime := http.DetectContentType(photo)
	if !strings.HasPrefix(mime, "image/") {
		mime = "image/jpeg"
	}
	card.Set(vcard.FieldPhoto, &vcard.Field{Value: "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(photo)})
}

// findPhotoBook pulls the newest .vcf from the phone's usual export
// folders, or returns nil when there is none.
func (e *Exporter) findPhotoBook(ctx context.Context) (*photoBook, string, error) {
	s, err := e.dev.Sync(ctx)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	var best adb.FileInfo
	bestPath := ""
	for _, dir := range vcfFolders {
		p := e.opt.Storage + "/" + dir
		if dir == "" {
			p = e.opt.Storage
		}
		var found []adb.FileInfo
		for fi, err := range s.List(p) {
			if err != nil {
				break
			}
			if fi.IsRegular() && strings.EqualFold(path.Ext(fi.Name), ".vcf") {
				found = append(found, fi)
			}
		}
		if s.Err() != nil {
			return nil, "", s.Err()
		}
		for _, fi := range found {
			if bestPath == "" || fi.ModTime.After(best.ModTime) || fi.ModTime.Equal(best.ModTime) && p+"/"+fi.Name < bestPath {
				best, bestPath = fi, p+"/"+fi.Name
			}
		}
	}
	if bestPath == "" {
		return nil, "", nil
	}
	r, err := s.Recv(bestPath)
	if err != nil {
		return nil, "", err
	}
	book, err := readVCFPhotos(r)
	if err != nil {
		r.Close()
		e.log.Warn("contacts .vcf on the phone unreadable; photos not merged", "path", bestPath, "err", err)
		return nil, "", nil
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, "", err
	}
	return book, bestPath, nil
}
