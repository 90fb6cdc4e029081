package miui

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-vcard"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

func (rd *reader) decode(p *spool) error {
	root := region{ra: p, off: 0, end: p.size, where: string(rd.res.Kind), maxRec: rd.opt.Limits.MaxRecord}
	switch rd.res.Kind {
	case KindSMS, KindMMS, KindMessages:
		return rd.messages(root)
	case KindContacts, KindCalls:
		return rd.contactsOrCalls(root)
	case KindNotes:
		return rd.notes(root)
	}
	return nil
}

func (rd *reader) unknownSpan(where string, s span) {
	rd.res.Unknown[fmt.Sprintf("%s.%d", where, s.num)]++
}

func (rd *reader) userSuffix() string {
	if rd.res.User == 0 {
		return ""
	}
	return fmt.Sprintf("-u%d", rd.res.User)
}

func ms(n int64, ok bool) time.Time {
	if !ok || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// messages decodes SyncRoot{4: MmsSms{1: repeated Sms, 2: repeated Mms}}.
func (rd *reader) messages(root region) error {
	return root.each(func(s span) error {
		if s.num != 4 || s.typ != protowire.BytesType {
			rd.unknownSpan("root", s)
			return nil
		}
		box := root.sub(s, "4")
		return box.each(func(s span) error {
			if err := rd.ctx.Err(); err != nil {
				return err
			}
			switch {
			case s.num == 1 && s.typ == protowire.BytesType:
				r, err := box.load(s)
				if err != nil {
					return err
				}
				return rd.emitMessage(rd.sms(r))
			case s.num == 2 && s.typ == protowire.BytesType:
				r, err := box.load(s)
				if err != nil {
					return err
				}
				return rd.emitMessage(rd.mms(r))
			}
			rd.unknownSpan("mmssms", s)
			return nil
		})
	})
}

func (rd *reader) emitMessage(m mapping.Message) error {
	m.Key = mapping.MessageKey(&m) + rd.userSuffix()
	if err := rd.sink.Message(rd.ctx, m); err != nil {
		return fmt.Errorf("message %s: %w", m.Key, err)
	}
	rd.res.Counts.Messages++
	return nil
}

func (rd *reader) sms(r *rec) mapping.Message {
	box, _ := r.int(3)
	m := mapping.Message{
		Type:          "sms",
		Box:           int(box),
		Address:       r.str(4),
		Subject:       r.str(5),
		Body:          r.str(6),
		Date:          ms(r.int(7)),
		Read:          r.bool(8),
		DateSent:      ms(r.int(11)),
		ServiceCenter: r.str(12),
		Locked:        r.bool(15),
	}
	r.unknown(rd.res.Unknown, "sms")
	return m
}

// mms decodes an MMS record. PROVISIONAL: the MIUI layout of MMS is not
// documented anywhere we could find; this reads the SMS fields it shares
// (3 box, 4 address, 5 subject, 7 date ms, 8 read, 11 date sent, 15 locked)
// plus parts in 20 {1 seq, 2 content type, 3 name, 4 charset, 5 cid, 6 cl,
// 7 text, 8 path of the file under miui_att} and addresses in
// 21 {1 address, 2 type, 3 charset}. Anything else is counted as unknown.
func (rd *reader) mms(r *rec) mapping.Message {
	box, _ := r.int(3)
	m := mapping.Message{
		Type:     "mms",
		Box:      int(box),
		Address:  r.str(4),
		Subject:  r.str(5),
		Date:     ms(r.int(7)),
		Read:     r.bool(8),
		DateSent: ms(r.int(11)),
		Locked:   r.bool(15),
	}
	for _, p := range r.subs(20) {
		seq, _ := p.int(1)
		cs, _ := p.int(4)
		part := mapping.Part{Seq: int(seq), ContentType: p.str(2), Name: p.str(3), Charset: int(cs),
			ContentID: p.str(5), ContentLocation: p.str(6), Text: p.str(7)}
		if file := p.str(8); file != "" {
			if e, ok := rd.lookup(file); ok {
				part.File, part.Size, part.SHA256 = e.Path, e.Size, e.SHA256
			} else {
				rd.res.MissingAttachments++
			}
		}
		p.unknown(rd.res.Unknown, "mms.part")
		m.Parts = append(m.Parts, part)
	}
	var to []string
	for _, a := range r.subs(21) {
		t, _ := a.int(2)
		cs, _ := a.int(3)
		addr := mapping.Addr{Address: a.str(1), Type: int(t), Charset: int(cs)}
		a.unknown(rd.res.Unknown, "mms.addr")
		m.Addrs = append(m.Addrs, addr)
		if addr.Type == 151 {
			to = append(to, addr.Address)
		}
	}
	if m.Address == "" {
		for _, a := range m.Addrs {
			if a.Type == 137 && m.Box == 1 {
				m.Address = a.Address
			}
		}
		if m.Address == "" {
			m.Address = strings.Join(to, "~")
		}
	}
	r.unknown(rd.res.Unknown, "mms")
	return m
}

// lookup finds an attachment by the phone path a record names.
func (rd *reader) lookup(p string) (mapping.Entry, bool) {
	if e, ok := rd.files[strings.TrimPrefix(p, "/")]; ok {
		return e, true
	}
	e, ok := rd.base[path.Base(p)]
	return e, ok
}

// contactsOrCalls decodes com.android.contacts payloads. Contacts are
// repeated 1 {2 {contact}}; the call log is 2 {repeated 1 {call}} or, in
// some builds, repeated 1 {call} at the top: a call has a number (3) and a
// date (4) of its own, a contact wrapper has neither.
func (rd *reader) contactsOrCalls(root region) error {
	return root.each(func(s span) error {
		if err := rd.ctx.Err(); err != nil {
			return err
		}
		switch {
		case s.num == 2 && s.typ == protowire.BytesType:
			rd.res.Kind = KindCalls
			list := root.sub(s, "2")
			return list.each(func(s span) error {
				if s.num != 1 || s.typ != protowire.BytesType {
					rd.unknownSpan("calls", s)
					return nil
				}
				r, err := list.load(s)
				if err != nil {
					return err
				}
				return rd.emitCall(r)
			})
		case s.num == 1 && s.typ == protowire.BytesType:
			r, err := root.load(s)
			if err != nil {
				return err
			}
			if r.has(3, protowire.BytesType) && r.has(4, protowire.VarintType) {
				rd.res.Kind = KindCalls
				return rd.emitCall(r)
			}
			return rd.emitContact(r)
		}
		rd.unknownSpan("root", s)
		return nil
	})
}

func (r *rec) has(num protowire.Number, typ protowire.Type) bool {
	for _, f := range r.fields {
		if f.num == num && f.typ == typ {
			return true
		}
	}
	return false
}

func (rd *reader) emitCall(r *rec) error {
	r.last(2) // the phone's row id: not kept, a key is derived
	dur, _ := r.int(5)
	typ, _ := r.int(6)
	c := mapping.Call{Number: r.str(3), Date: ms(r.int(4)), Duration: dur, Type: int(typ)}
	r.unknown(rd.res.Unknown, "call")
	c.Key = mapping.CallKey(&c) + rd.userSuffix()
	if err := rd.sink.Call(rd.ctx, c); err != nil {
		return fmt.Errorf("call %s: %w", c.Key, err)
	}
	rd.res.Counts.Calls++
	return nil
}

// phoneTypes maps Android's Phone.TYPE to vCard TEL types.
var phoneTypes = map[int64][]string{1: {"home"}, 2: {"cell"}, 3: {"work"}, 4: {"fax", "work"}, 5: {"fax", "home"}, 6: {"pager"}, 12: {"pref"}}

func (rd *reader) emitContact(wrap *rec) error {
	bodies := wrap.subs(2)
	wrap.unknown(rd.res.Unknown, "contact.wrapper")
	for _, r := range bodies {
		r.last(2) // the phone's contact id: not kept
		card := vcard.Card{}
		var given, family, display string
		for _, n := range r.subs(5) {
			display, given, family = n.str(1), n.str(2), n.str(4)
			n.unknown(rd.res.Unknown, "contact.name")
		}
		if given != "" || family != "" {
			card.SetName(&vcard.Name{GivenName: given, FamilyName: family})
		}
		for _, p := range r.subs(6) {
			t, _ := p.int(2)
			f := &vcard.Field{Value: p.str(1), Params: vcard.Params{}}
			if ts := phoneTypes[t]; ts != nil {
				f.Params[vcard.ParamType] = ts
			}
			card.Add(vcard.FieldTelephone, f)
			p.unknown(rd.res.Unknown, "contact.phone")
		}
		r.unknown(rd.res.Unknown, "contact")
		if display == "" {
			display = strings.TrimSpace(given + " " + family)
		}
		if display == "" {
			if tel := card.Value(vcard.FieldTelephone); tel != "" {
				display = tel
			}
		}
		card.SetValue(vcard.FieldFormattedName, display)
		if rd.res.User != 0 {
			card.SetValue("X-MIUI-USER", fmt.Sprint(rd.res.User))
		}
		key, err := contactKey(card)
		if err != nil {
			return fmt.Errorf("contact %q: %w", display, err)
		}
		if err := rd.sink.Contact(rd.ctx, mapping.Contact{Key: key, Card: card}); err != nil {
			return fmt.Errorf("contact %q: %w", display, err)
		}
		rd.res.Counts.Contacts++
	}
	return nil
}

// contactKey is the hash of the card as vCard 4.0, as the snapshot writer
// computes it for a contact without a key; computing it here lets an
// inventory de-duplicate exactly as the export will.
func contactKey(card vcard.Card) (string, error) {
	c := make(vcard.Card, len(card))
	for k, fs := range card {
		cp := make([]*vcard.Field, len(fs))
		for i, f := range fs {
			g := *f
			cp[i] = &g
		}
		c[k] = cp
	}
	vcard.ToV4(c)
	var b strings.Builder
	if err := vcard.NewEncoder(&b).Encode(c); err != nil {
		return "", err
	}
	return mapping.HashKey("contact-", []byte(b.String())), nil
}

// trashFolder is the folder id of deleted notes in Xiaomi's notes app
// (MiCode Notes: Notes.ID_TRASH_FOLER = -3). ASSUMPTION: field 4 of a note
// record holds its folder id; confirmed by no real backup yet.
const trashFolder = -3

// notes decodes folders 1 {2 id, 5 created, 6 modified, 9 name} and notes
// 2 {2 id, 3 alarm, 4 folder id, 5 created, 6 modified, 8 content,
// 9 image footers {1 mime, 2 ctime, 3 mtime, 4 file name}, 10 folder name,
// 14 title, 15 type}, at the top level or inside a wrapper 6 (one
// converter found the whole database there).
func (rd *reader) notes(root region) error {
	folders := map[string]string{}
	var walk func(g region, pass int, top bool) error
	walk = func(g region, pass int, top bool) error {
		return g.each(func(s span) error {
			if err := rd.ctx.Err(); err != nil {
				return err
			}
			switch {
			case top && s.num == 6 && s.typ == protowire.BytesType:
				// One level only: a crafted file must not nest us deep.
				return walk(g.sub(s, "6"), pass, false)
			case s.num == 1 && s.typ == protowire.BytesType:
				if pass == 0 {
					r, err := g.load(s)
					if err != nil {
						return err
					}
					id := r.str(2)
					folders[id] = r.str(9)
					r.last(5)
					r.last(6)
					r.unknown(rd.res.Unknown, "notes.folder")
				}
			case s.num == 2 && s.typ == protowire.BytesType:
				if pass == 1 {
					r, err := g.load(s)
					if err != nil {
						return err
					}
					return rd.emitNote(r, folders)
				}
			default:
				if pass == 0 {
					rd.unknownSpan("notes.root", s)
				}
			}
			return nil
		})
	}
	if err := walk(root, 0, true); err != nil {
		return err
	}
	return walk(root, 1, true)
}

func (rd *reader) emitNote(r *rec, folders map[string]string) error {
	id := r.str(2)
	r.last(3) // alarm time: Markdown has no place for it
	folderID, hasFolder := r.int(4)
	content := r.str(8)
	for _, f := range r.subs(9) {
		f.last(1)
		f.last(2)
		f.last(3)
		f.last(4)
		f.unknown(rd.res.Unknown, "note.image")
	}
	folder := r.str(10)
	if folder == "" && hasFolder {
		folder = folders[fmt.Sprint(folderID)]
	}
	title := r.str(14)
	typ := r.str(15)
	n := mapping.Note{
		Title:    title,
		Created:  ms(r.int(5)),
		Modified: ms(r.int(6)),
		Deleted:  hasFolder && folderID == trashFolder,
	}
	r.unknown(rd.res.Unknown, "note")
	if typ == "secret" && folder == "" {
		folder = "Secret"
	}
	if rd.res.User != 0 {
		if folder == "" {
			folder = fmt.Sprintf("User %d", rd.res.User)
		} else {
			folder = fmt.Sprintf("User %d - %s", rd.res.User, folder)
		}
	}
	n.Folder = folder
	n.Body = noteMarkdown(content, func(fileID string) string {
		e, ok := rd.base[fileID]
		if !ok {
			rd.res.MissingAttachments++
			return ""
		}
		return noteLink(folder, e.Path)
	})
	if n.Title == "" {
		n.Title = firstLine(n.Body)
	}
	n.Key = mapping.HashKey("note-", []byte(fmt.Sprintf("%d\x00%s\x00%d\x00%s", rd.res.User, id, n.Created.UnixMilli(), content)))
	if err := rd.sink.Note(rd.ctx, n); err != nil {
		return fmt.Errorf("note %q: %w", n.Title, err)
	}
	rd.res.Counts.Notes++
	return nil
}

// noteLink is the path from a note's Markdown file (notes/<folder>/x.md,
// or notes/x.md without a folder) to an attachment under notes/.
func noteLink(folder, rel string) string {
	r := strings.TrimPrefix(rel, snapshot.NotesDir+"/")
	if snapshot.SafeName(folder, "") == "" {
		return r
	}
	return "../" + r
}

var mdPrefix = regexp.MustCompile(`^\s*(#+ |[-*] (\[[ x]\] )?|\d+\. |> )*`)

// firstLine makes a title for an untitled note from its first line of text.
func firstLine(md string) string {
	for _, l := range strings.Split(md, "\n") {
		l = strings.TrimSpace(mdPrefix.ReplaceAllString(l, ""))
		l = strings.TrimSpace(strings.NewReplacer("**", "", "~~", "").Replace(l))
		if l != "" && !strings.HasPrefix(l, "![") {
			if r := []rune(l); len(r) > 60 {
				l = string(r[:60])
			}
			return l
		}
	}
	return ""
}
