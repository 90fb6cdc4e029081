// Package miuigen writes synthetic MIUI "Local backup" files for tests and
// samples: the AllBackup/<yyyyMMdd_HHmmss>/ folder with descript.xml and
// one <label>(<package>).bak per feature, or the HyperOS zip of it;
// compressed or not, optionally encrypted as Android backups are. Output is
// a pure function of the fixture and options: the same seed gives the same
// bytes.
//
// It implements the format on its own (no code shared with the reader), so
// a round trip checks the reader against a second reading of the spec.
package miuigen

import (
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"time"
)

// Fixture is the data a generated backup holds; tests compare what the
// reader returns with it.
type Fixture struct {
	Base     time.Time // the backup's date
	SMS      []SMS
	MMS      []MMS
	Contacts []Contact
	Calls    []Call
	Folders  []Folder
	Notes    []Note
}

type SMS struct {
	Box           int
	Address       string
	Subject       string
	Body          string
	Date          int64 // ms
	DateSent      int64
	Read, Locked  bool
	ServiceCenter string
}

type MMS struct {
	Box     int
	Subject string
	Date    int64
	Read    bool
	Parts   []Part
	Addrs   []Addr
}

type Part struct {
	Seq         int
	ContentType string
	Name        string
	Charset     int
	Text        string
	// Data and PhonePath describe a file part: stored under miui_att at
	// PhonePath (an absolute path on the phone).
	Data      []byte
	PhonePath string
}

type Addr struct {
	Address string
	Type    int
}

type Contact struct {
	ID                     int
	Display, Given, Family string
	Phones                 []Phone
}

type Phone struct {
	Number string
	Type   int
}

type Call struct {
	ID       int
	Number   string
	Date     int64
	Duration int64
	Type     int
}

type Folder struct {
	ID   int
	Name string
}

type Note struct {
	ID       int
	FolderID int // -3: deleted (the trash)
	Folder   string
	Title    string
	Created  int64
	Modified int64
	Content  string // MIUI markup
	Images   []Image
	Secret   bool
}

type Image struct {
	FileID string // 40 characters
	Mime   string
	Data   []byte
}

// Deleted reports whether the note is in the trash.
func (n Note) Deleted() bool { return n.FolderID == -3 }

// bodies are the awkward cases: CJK, emoji (outside the BMP), ", " and
// newlines that break naive parsers, XML specials, a fake "Row:" line.
var bodies = []string{
	"你好，明天见 %d",
	"Emoji 😀👍🏽🇨🇳 %d",
	"comma, space, and more, %d",
	"line one\nline two\n\nline four %d",
	"quotes \" ' and <xml> & ampersand %d",
	"Row: 1 _id=%d, body=fake",
	"验证码 %d，五分钟内有效。\r\n【小米】",
	"trailing spaces and tab\t %d  ",
}

var names = []struct{ given, family string }{
	{"伟", "王"}, {"Anna", "Müller"}, {"さくら", "山田"}, {"José", "García"}, {"Ольга", "Иванова"}, {"Li", "Chen"},
}

// New returns a fixture of about n records of each kind, the same for the
// same seed.
func New(seed uint64, n int) *Fixture {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(1000)) * time.Hour)
	f := &Fixture{Base: base}
	t0 := base.Add(-30 * 24 * time.Hour).UnixMilli()
	for i := 0; i < n; i++ {
		box := 1 + i%2
		f.SMS = append(f.SMS, SMS{
			Box:           box,
			Address:       fmt.Sprintf("+86 138 %04d %04d", rng.IntN(10000), i),
			Body:          fmt.Sprintf(bodies[i%len(bodies)], i),
			Date:          t0 + int64(i)*61_000 + int64(rng.IntN(1000)),
			DateSent:      t0 + int64(i)*61_000 - 2000,
			Read:          i%3 != 0,
			Locked:        i%7 == 0,
			ServiceCenter: "+8613800100500",
		})
		nm := names[i%len(names)]
		c := Contact{ID: 100 + i, Given: nm.given, Family: nm.family, Display: fmt.Sprintf("%s %s %d", nm.given, nm.family, i)}
		c.Phones = append(c.Phones, Phone{Number: fmt.Sprintf("138 %04d %04d", rng.IntN(10000), i), Type: 2})
		if i%2 == 0 {
			c.Phones = append(c.Phones, Phone{Number: fmt.Sprintf("+49 30 %07d", i), Type: 7})
		}
		f.Contacts = append(f.Contacts, c)
		f.Calls = append(f.Calls, Call{ID: 500 + i, Number: fmt.Sprintf("+86 139 %04d %04d", rng.IntN(10000), i),
			Date: t0 + int64(i)*3_600_000, Duration: int64(rng.IntN(600)), Type: 1 + i%6})
	}
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0}, make([]byte, 300)...)
	for i := range jpeg[11:] {
		jpeg[11+i] = byte(rng.IntN(256))
	}
	f.MMS = []MMS{
		{Box: 1, Subject: "照片 📷", Date: t0 + 5_000_000, Read: true,
			Parts: []Part{
				{Seq: 0, ContentType: "text/plain", Charset: 106, Text: "看看这个, ok?\n第二行"},
				{Seq: 1, ContentType: "image/jpeg", Name: "IMG_0001.jpg", Data: jpeg, PhonePath: "data/user/0/com.android.providers.telephony/app_parts/PART_1700000000_IMG_0001.jpg"},
			},
			Addrs: []Addr{{"+86 138 0013 8000", 137}, {"+86 139 0000 0001", 151}}},
		{Box: 2, Date: t0 + 6_000_000, Read: true,
			Parts: []Part{{Seq: 0, ContentType: "text/plain", Charset: 106, Text: "group text 群聊 🎉"}},
			Addrs: []Addr{{"insert-address-token", 137}, {"+86 138 0013 8000", 151}, {"+49 30 1234567", 151}}},
	}
	f.Folders = []Folder{{ID: 1, Name: "工作"}, {ID: 2, Name: "Personal"}}
	img := Image{FileID: fmt.Sprintf("%x", sha1.Sum(jpeg)), Mime: "image/jpeg", Data: jpeg}
	f.Notes = []Note{
		{ID: 1, FolderID: 1, Folder: "工作", Title: "会议记录", Created: t0, Modified: t0 + 1000,
			Content: `<new-format/><text indent="1"><b>议程</b>, part 1</text>` + "\n" +
				`<bullet indent="1" /><text indent="1">第一项 😀</text>` + "\n" +
				`<input type="checkbox" checked="true" /><text indent="1">done &amp; dusted</text>` + "\n" +
				"☺ " + img.FileID + "<0/></>",
			Images: []Image{img}},
		{ID: 2, FolderID: 0, Title: "", Created: t0 + 2000, Modified: t0 + 3000, Content: "plain note, no markup\nsecond line"},
		{ID: 3, FolderID: -3, Title: "deleted one", Created: t0 + 4000, Modified: t0 + 5000, Content: `<new-format/><text indent="1">gone</text>`},
		{ID: 4, FolderID: 2, Folder: "Personal", Title: "secret", Created: t0 + 6000, Modified: t0 + 7000, Content: "🔒 hidden", Secret: true},
	}
	return f
}
