package micloudtest

import (
	"crypto/sha1"
	"encoding/hex"
	"math/rand/v2"
)

func sha1hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// Bytes returns n repeatable bytes starting with the magic of a file type
// ("jpg", "mp4", "png", "m4a", anything else: none).
func Bytes(kind string, seed uint64, n int) []byte {
	var head []byte
	switch kind {
	case "jpg":
		head = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}
	case "png":
		head = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}
	case "mp4", "m4a":
		head = []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'}
	}
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, max(n, len(head)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b, head)
	return b
}

// Base is 2024-03-01 12:00:00 UTC in unix ms; sample dates count from it.
const Base int64 = 1709294400000

// Sample is a small account exercising every route and awkward case: ids
// as numbers and strings, the same file name in two albums, hostile album
// and file names, a private album, a deleted item, notes with markup and
// images, recordings of every type, contacts over several pages, SMS
// threads. Deleted photos are left out unless withDeleted.
func Sample(withDeleted bool) Data {
	d := Data{
		Albums: []Album{
			{ID: 1, Name: ""}, // Camera: the service leaves system album names empty
			{ID: 2, Name: "Screenshots"},
			{ID: 1000, Name: ""}, // the private album
			{ID: 1577, Name: "Trip/../../etc 旅行"},
			{ID: 1600, Name: "Empty"},
		},
	}
	id := int64(9000000)
	add := func(album int64, name, typ, mime, kind string, size int) {
		id++
		d.Photos = append(d.Photos, Photo{ID: id, AlbumID: album, FileName: name, Type: typ, MIME: mime,
			Data: Bytes(kind, uint64(id), size), DateTaken: Base + id%1000*60000, DateModified: Base + id%1000*61000})
	}
	for i := 0; i < 7; i++ {
		add(1, "IMG_20240301_12000"+string(rune('0'+i))+".jpg", "image", "image/jpeg", "jpg", 3000+i*517)
	}
	add(1, "VID_20240301_130000.mp4", "video", "video/mp4", "mp4", 40000)
	add(2, "Screenshot_2024-03-01.png", "image", "image/png", "png", 2500)
	add(2, "IMG_20240301_120000.jpg", "image", "image/jpeg", "jpg", 1234) // same name as in Camera
	add(1000, "secret.jpg", "image", "image/jpeg", "jpg", 999)
	add(1577, "../../../escape.jpg", "image", "image/jpeg", "jpg", 800)
	add(1577, "a\\b/c\x01d.jpg", "image", "image/jpeg", "jpg", 700)
	add(1577, "海边.jpg", "image", "image/jpeg", "jpg", 600)
	add(1577, "..", "image", "image/jpeg", "jpg", 500)
	if withDeleted {
		add(1, "IMG_gone.jpg", "image", "image/jpeg", "jpg", 100)
		d.Photos[len(d.Photos)-1].Deleted = true
	}

	d.Folders = []Folder{{ID: 1, Subject: "Work"}, {ID: 2, Subject: "../Private"}}
	img1 := NoteImage{FileID: "1234567.Abc_Def-123", MIME: "image/jpeg", Data: Bytes("jpg", 1, 1500)}
	img2 := NoteImage{FileID: "1234567.Xyz_987", MIME: "image/png", Data: Bytes("png", 2, 900)}
	d.Notes = []Note{
		{ID: 40001, FolderID: 0, Title: "Shopping", Created: Base, Modified: Base + 1000,
			Content: "<text indent=\"1\"><b>Groceries</b></text>\n<input type=\"checkbox\" indent=\"1\" level=\"3\" checked=\"true\" />milk\n<input type=\"checkbox\" indent=\"1\" level=\"3\" />eggs &amp; bread\n<bullet indent=\"1\" /><text indent=\"1\">apples</text>"},
		{ID: 40002, FolderID: 1, Title: "Meeting", Created: Base + 2000, Modified: Base + 3000,
			Content: "<text indent=\"1\">Agenda with <i>photos</i>:</text>\n☺ " + img1.FileID + "<0/></>\n<order indent=\"1\" inputNumber=\"0\" /><text indent=\"1\">first</text>\n<order indent=\"1\" inputNumber=\"1\" /><text indent=\"1\">second</text>\n☺ " + img2.FileID + "<0/></>",
			Images:  []NoteImage{img1, img2}},
		{ID: 40003, FolderID: 2, Title: "", Created: Base + 4000, Modified: Base + 5000,
			Content: "untitled note line one\n<delete>struck</delete> and <u>under</u>\n<hr />"},
		{ID: 40004, FolderID: 1, Title: "Meeting", Created: Base + 6000, Modified: Base + 7000,
			Content: "<text indent=\"1\">a second note with the same title</text>"},
	}

	d.Recordings = []Recording{
		{ID: 7001, Name: "Recording 001.mp3_1_0_7001_1709294400000", Data: Bytes("mp3", 11, 2000), Created: Base},
		{ID: 7002, Name: "Call 13800138000 (13800138000)_20240301120000.mp3_1_1_7002_1709294401000", Data: Bytes("mp3", 12, 1800), Created: Base + 1000},
		{ID: 7003, Name: "FM 97.4.aac_1_2_7003_1709294402000", Data: Bytes("m4a", 13, 1500), Created: Base + 2000},
		{ID: 7004, Name: "odd name without suffix.m4a", Data: Bytes("m4a", 14, 1200), Created: Base + 3000},
		{ID: 7005, Name: "Recording 001.mp3_1_0_7005_1709294404000", Data: Bytes("mp3", 15, 1100), Created: Base + 4000},
		{ID: 7006, Name: "../weird.mp3_1_9_7006_1709294405000", Data: Bytes("mp3", 16, 1000), Created: Base + 5000},
	}

	d.Groups = []Group{{ID: "g1", Title: "Family"}}
	for i, c := range []struct{ name, given, family, phone, email string }{
		{"张伟", "伟", "张", "+86 138 0013 8000", "zhang@example.com"},
		{"Alice Smith", "Alice", "Smith", "+1 555 0100", "alice@example.org"},
		{"Bob", "Bob", "", "555-0101", ""},
		{"Carol Jones", "Carol", "Jones", "", "carol@example.net"},
		{"Dave, Jr.", "Dave", "", "+44 20 7946 0000", ""},
	} {
		content := map[string]any{
			"displayName": c.name,
			"name":        map[string]any{"formatted": c.name, "givenName": c.given, "familyName": c.family},
		}
		if c.phone != "" {
			content["phoneNumbers"] = []map[string]any{{"type": "mobile", "value": c.phone}}
		}
		if c.email != "" {
			content["emails"] = []map[string]any{{"type": "home", "value": c.email}}
		}
		if i == 0 {
			content["addresses"] = []map[string]any{{"type": "home", "formatted": "1 Road; Beijing"}}
			content["organizations"] = []map[string]any{{"company": "Acme", "title": "Engineer"}}
			content["events"] = []map[string]any{{"type": "birthday", "value": "1990-05-06"}}
			content["groups"] = []map[string]any{{"value": "g1"}}
			content["ims"] = []map[string]any{{"type": "qq", "value": "10001"}}
			content["notes"] = "likes tea"
		}
		d.Contacts = append(d.Contacts, Contact{ID: "c" + string(rune('1'+i)), Content: content, UpdateTime: Base + int64(i)})
	}
	d.Threads = []Thread{
		{ID: 1, Recipients: "10086", Snippet: "Your bill", LocalTime: Base, Total: 42},
		{ID: 2, Recipients: "+8613800138000", Snippet: "see you", LocalTime: Base + 1, Total: 7},
		{ID: 3, Recipients: "95588", Snippet: "code 1234", LocalTime: Base + 2, Total: 1},
	}
	return d
}
