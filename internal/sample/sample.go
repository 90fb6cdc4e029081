// Package sample writes miexit's synthetic sample source: what a person
// might hold after leaving Mi Cloud (an exported vCard file, messages and
// calls as JSONL, notes, camera photos, a video, a screenshot saved with a
// lying extension, a recording, a gallery thumbnail, a file miexit does not
// understand). Every person, number and picture in it is made up.
package sample

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/miexit/miexit/internal/miuigen"
	"github.com/miexit/miexit/mapping"
)

const (
	sampleSeed          = 2024
	sampleBackupRecords = 4
)

// Generate writes the sample into dir, replacing files of the same names.
// ReducedCopy is the sample's one photo that is only a reduced copy (a
// Cloud Album thumbnail whose original is in Mi Cloud): with it, signing
// out is not safe, as the report and the checklist say. Tests that need
// a safe ending remove it (WithoutReducedCopy).
const ReducedCopy = "MIUI/Gallery/cloud/.thumbnailFile/9f3b2c1d0e4a5b6c7d8e9f00112233445566778.jpg"

// WithoutReducedCopy removes ReducedCopy from a sample folder, as if the
// person had downloaded the original in the Gallery first.
func WithoutReducedCopy(dir string) error {
	return os.Remove(filepath.Join(dir, filepath.FromSlash(ReducedCopy)))
}

func Generate(dir string) error {
	files, err := Files()
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// File is one file of the sample.
type File struct {
	Name string
	Data []byte
}

// Files returns the sample's files, always the same bytes.
func Files() ([]File, error) {
	var out []File
	add := func(name string, data []byte) { out = append(out, File{name, data}) }

	add("Contacts/contacts.vcf", []byte(contactsVCF))
	msgs, err := messagesJSONL()
	if err != nil {
		return nil, err
	}
	add("messages.jsonl", msgs)
	calls, err := callsJSONL()
	if err != nil {
		return nil, err
	}
	add("calls.jsonl", calls)
	add("notes/Personal/Shopping list.md", []byte("- rice\n- 豆腐\n- green tea 🍵\n"))
	add("notes/Work/会议记录.md", []byte("# 会议记录\n\nModified: 2024-03-04T09:30:00+08:00  \n\nDiscuss the move off Mi Cloud, then sign out.\n"))

	jpg, err := photo(color.RGBA{200, 40, 40, 255}, "2024:05:01 10:15:00")
	if err != nil {
		return nil, err
	}
	add("DCIM/Camera/IMG_20240501_101500.jpg", jpg)
	jpg2, err := photo(color.RGBA{40, 160, 60, 255}, "2023:12:24 18:00:05")
	if err != nil {
		return nil, err
	}
	add("Pictures/WeChat/微信图片_20231224.jpg", jpg2)
	add("DCIM/Camera/VID_20240502_120000.mp4", movie(time.Date(2024, 5, 2, 4, 0, 0, 0, time.UTC)))
	shot, err := screenshot()
	if err != nil {
		return nil, err
	}
	// MIUI saves some screenshots as PNG under a .jpg name: the bytes say PNG.
	add("DCIM/Screenshots/Screenshot_2024-06-01-08-30-00-123_com.miui.home.jpg", shot)
	add("MIUI/sound_recorder/Meeting notes.mp3", recording())
	thumb, err := photo(color.RGBA{90, 90, 200, 255}, "")
	if err != nil {
		return nil, err
	}
	add(ReducedCopy, thumb)
	add("Download/booking.pdf", []byte("%PDF-1.4\n% a file miexit lists as not understood\n"))

	// A MIUI "Local backup" folder as the phone writes it (synthetic data:
	// CJK, emoji, bodies with ", " and newlines, an MMS with a picture,
	// notes with an image).
	bak := miuigen.New(sampleSeed, sampleBackupRecords)
	names, data, err := bak.Files(miuigen.Options{Compressed: true, Seed: sampleSeed})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		add(path.Join("MIUI/backup/AllBackup", bak.Stamp(), n), data[n])
	}
	return out, nil
}

const contactsVCF = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Example\r\nN:Example;Ana;;;\r\nTEL;TYPE=CELL:+1 555 0100\r\nEMAIL;TYPE=HOME:ana@example.com\r\nORG:Example Ltd\r\nBDAY:1990-04-01\r\nEND:VCARD\r\n" +
	"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:王小明\r\nN:王;小明;;;\r\nTEL;TYPE=CELL:+86 138 0013 8000\r\nX-PHONETIC-FIRST-NAME:Xiaoming\r\nX-PHONETIC-LAST-NAME:Wang\r\nNOTE:Met at the Shenzhen office\\, 2019\r\nEND:VCARD\r\n" +
	"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:5f2b6a34-0c7e-4f0e-9d1c-1b2a3c4d5e6f\r\nFN:Bob O'Sample\r\nN:O'Sample;Bob;;;\r\nTEL;TYPE=work,voice;VALUE=uri:tel:+44-20-7946-0958\r\nX-QQ:10001\r\nEND:VCARD\r\n"

func messagesJSONL() ([]byte, error) {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	msgs := []mapping.Message{
		{Type: "sms", Box: 1, Address: "+8613800138000", Date: at("2024-05-01T08:00:00+08:00"), Read: true, Body: "明天见！🎉 Bring the tea, please."},
		{Type: "sms", Box: 2, Address: "+8613800138000", Date: at("2024-05-01T08:05:00+08:00"), Read: true, Body: "OK, see you then, Wang"},
		{Type: "sms", Box: 1, Address: "+15550100", Date: at("2024-05-03T19:30:00Z"), Body: "Line one\nLine two, with a comma = and an equals sign"},
		{Type: "sms", Box: 1, Address: "XIAOMI", Date: at("2024-05-04T10:00:00+08:00"), Read: true, Body: "【小米】您的验证码是 123456"},
		{Type: "mms", Box: 1, Address: "+15550100", Date: at("2024-05-05T12:00:00Z"), Read: true, Subject: "Trip",
			Parts: []mapping.Part{{Seq: 0, ContentType: "text/plain", Charset: 106, Text: "Look at this 😀"}},
			Addrs: []mapping.Addr{{Address: "+15550100", Type: 137, Charset: 106}, {Address: "+8613800138000", Type: 151, Charset: 106}}},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range msgs {
		if err := enc.Encode(&msgs[i]); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func callsJSONL() ([]byte, error) {
	calls := []mapping.Call{
		{Number: "+8613800138000", Date: time.Date(2024, 5, 1, 1, 0, 0, 0, time.UTC), Duration: 125, Type: 1, Name: "王小明"},
		{Number: "+15550100", Date: time.Date(2024, 5, 2, 15, 30, 0, 0, time.UTC), Duration: 0, Type: 3},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range calls {
		if err := enc.Encode(&calls[i]); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// photo draws a small JPEG and, when taken is set, gives it an EXIF block
// with DateTimeOriginal.
func photo(c color.RGBA, taken string) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := 0; y < 24; y++ {
		for x := 0; x < 32; x++ {
			img.Set(x, y, color.RGBA{c.R, c.G + uint8(x*2), c.B + uint8(y*3), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	if taken == "" {
		return b.Bytes(), nil
	}
	out := append([]byte{}, b.Bytes()[:2]...) // SOI
	out = append(out, exifSegment(taken)...)
	return append(out, b.Bytes()[2:]...), nil
}

// exifSegment builds an APP1 segment: a little-endian TIFF with IFD0
// pointing to an Exif IFD that holds DateTimeOriginal.
func exifSegment(taken string) []byte {
	le := binary.LittleEndian
	var t bytes.Buffer
	t.WriteString("II*\x00")
	binary.Write(&t, le, uint32(8)) // IFD0 offset
	// IFD0: one entry, ExifIFDPointer -> 26.
	binary.Write(&t, le, uint16(1))
	binary.Write(&t, le, []uint16{0x8769, 4})
	binary.Write(&t, le, []uint32{1, 26})
	binary.Write(&t, le, uint32(0))
	// Exif IFD at 26: DateTimeOriginal, ASCII, 20 bytes at 44.
	binary.Write(&t, le, uint16(1))
	binary.Write(&t, le, []uint16{0x9003, 2})
	binary.Write(&t, le, []uint32{20, 44})
	binary.Write(&t, le, uint32(0))
	t.WriteString(taken + "\x00")
	payload := append([]byte("Exif\x00\x00"), t.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

func box(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint32(b, uint32(n))
	copy(b[4:], typ)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// movie is a minimal MP4: ftyp, moov/mvhd with a creation time, and a few
// bytes of mdat. Players would refuse it; miexit only reads its header.
func movie(created time.Time) []byte {
	secs := uint32(created.Sub(time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)) / time.Second)
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[4:], secs)  // creation_time
	binary.BigEndian.PutUint32(mvhd[8:], secs)  // modification_time
	binary.BigEndian.PutUint32(mvhd[12:], 1000) // timescale
	binary.BigEndian.PutUint32(mvhd[16:], 2000) // duration
	ftyp := append([]byte("isom"), 0, 0, 2, 0)
	ftyp = append(ftyp, []byte("isomiso2mp41")...)
	return append(append(box("ftyp", ftyp), box("moov", box("mvhd", mvhd))...), box("mdat", bytes.Repeat([]byte{0x42}, 64))...)
}

func screenshot() ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, 20, 40))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

// recording is an MP3-looking file: an ID3v2 header and frame-sync bytes.
func recording() []byte {
	b := []byte("ID3\x04\x00\x00\x00\x00\x00\x00")
	for i := 0; i < 8; i++ {
		b = append(b, 0xFF, 0xFB, 0x90, 0x64)
		b = append(b, bytes.Repeat([]byte{byte(i)}, 60)...)
	}
	return b
}

// Expected is what the sample holds, for tests: the loose files plus the
// MIUI backup's records.
var Expected = func() mapping.Counts {
	b := miuigen.New(sampleSeed, sampleBackupRecords)
	return mapping.Counts{
		Contacts: 3 + len(b.Contacts), Messages: 5 + len(b.SMS) + len(b.MMS), Calls: 2 + len(b.Calls),
		Notes: 2 + len(b.Notes), Media: 5, Thumbnails: 1, NotUnderstood: 1,
	}
}()
