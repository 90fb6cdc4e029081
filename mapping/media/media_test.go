package media

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"
)

// jpegWithEXIF builds a minimal JPEG whose APP1 segment holds an EXIF
// block with DateTimeOriginal = date ("2006:01:02 15:04:05").
func jpegWithEXIF(date string) []byte {
	be := binary.BigEndian
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, be, uint32(8)) // IFD0 offset
	// IFD0: one entry, ExifIFDPointer (0x8769) -> offset 26.
	binary.Write(&tiff, be, uint16(1))
	binary.Write(&tiff, be, []uint16{0x8769, 4})
	binary.Write(&tiff, be, []uint32{1, 26})
	binary.Write(&tiff, be, uint32(0)) // no next IFD
	// Exif IFD at 26: DateTimeOriginal (0x9003), ASCII, 20 bytes at 44.
	binary.Write(&tiff, be, uint16(1))
	binary.Write(&tiff, be, []uint16{0x9003, 2})
	binary.Write(&tiff, be, []uint32{20, 44})
	binary.Write(&tiff, be, uint32(0))
	tiff.WriteString(date + "\x00")

	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xD8, 0xFF, 0xE1})
	binary.Write(&b, be, uint16(2+6+tiff.Len()))
	b.WriteString("Exif\x00\x00")
	b.Write(tiff.Bytes())
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}

func box(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	b := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(b, uint32(8+len(body)))
	copy(b[4:], typ)
	return append(b, body...)
}

// mvhd returns a version 0 or 1 movie header created at t.
func mvhd(version byte, t time.Time) []byte {
	secs := uint64(t.Sub(mp4Epoch) / time.Second)
	p := []byte{version, 0, 0, 0}
	if version == 1 {
		p = binary.BigEndian.AppendUint64(p, secs)
		p = binary.BigEndian.AppendUint64(p, secs)
	} else {
		p = binary.BigEndian.AppendUint32(p, uint32(secs))
		p = binary.BigEndian.AppendUint32(p, uint32(secs))
	}
	p = append(p, make([]byte, 80)...)
	return box("mvhd", p)
}

func ftyp(brand string) []byte { return box("ftyp", []byte(brand+"\x00\x00\x00\x00isom")) }

var shot = time.Date(2024, 5, 1, 10, 15, 0, 0, time.UTC)

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"JPEG", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}, "image/jpeg"},
		{"PNG", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "image/png"},
		{"GIF87a", []byte("GIF87a\x01\x00"), "image/gif"},
		{"GIF89a", []byte("GIF89a\x01\x00"), "image/gif"},
		{"WebP", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp"},
		{"HEIC", ftyp("heic"), "image/heic"},
		{"HEIF mif1", ftyp("mif1"), "image/heic"},
		{"MP4 isom", ftyp("isom"), "video/mp4"},
		{"MP4 mp42", ftyp("mp42"), "video/mp4"},
		{"MOV", ftyp("qt  "), "video/quicktime"},
		{"3GP", ftyp("3gp4"), "video/3gpp"},
		{"AMR recording", []byte("#!AMR\n"), "audio/amr"},
		{"text is nothing", []byte("hello, world"), ""},
		{"too short", []byte{0xFF}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff(tt.head); got != tt.want {
				t.Errorf("Sniff = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExtensionLies(t *testing.T) {
	tests := []struct {
		name, file, sniffed, claimed string
		lies                         bool
	}{
		{"PNG screenshot saved as .jpg", "Screenshot_1.jpg", "image/png", "image/jpeg", true},
		{"honest JPEG", "IMG_1.JPG", "image/jpeg", "image/jpeg", false},
		{"HEIC named .jpg", "IMG_2.jpg", "image/heic", "image/jpeg", true},
		{"MOV named .mp4", "VID_1.mp4", "video/quicktime", "video/mp4", true},
		{"unknown extension", "file.bin", "image/png", "", false},
		{"unknown bytes", "a.jpg", "", "image/jpeg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claimed, lies := ExtensionLies(tt.file, tt.sniffed)
			if claimed != tt.claimed || lies != tt.lies {
				t.Errorf("ExtensionLies(%q, %q) = %q, %v; want %q, %v", tt.file, tt.sniffed, claimed, lies, tt.claimed, tt.lies)
			}
		})
	}
}

func TestTaken(t *testing.T) {
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	local := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.Local)
	}
	mp4 := bytes.Join([][]byte{ftyp("isom"), box("free", make([]byte, 100)), box("moov", mvhd(0, shot))}, nil)
	mp4v1 := bytes.Join([][]byte{ftyp("qt  "), box("moov", box("udta"), mvhd(1, shot))}, nil)
	tests := []struct {
		name     string
		data     []byte
		file     string
		want     time.Time
		wantFrom string
	}{
		{"EXIF DateTimeOriginal wins over the name", jpegWithEXIF("2023:12:24 18:30:05"), "IMG_20240501_101500.jpg", local(2023, 12, 24, 18, 30, 5), FromEXIF},
		{"mvhd creation time", mp4, "VID_20240501_101500.mp4", shot, FromMP4},
		{"mvhd version 1 after another box", mp4v1, "clip.mov", shot, FromMP4},
		{"MIUI camera name when EXIF is missing", []byte{0xFF, 0xD8, 0xFF, 0xD9}, "DCIM/Camera/IMG_20240501_101500.jpg", local(2024, 5, 1, 10, 15, 0), FromFileName},
		{"MIUI screenshot name", []byte("\x89PNG\r\n\x1a\n"), "Screenshot_2024-05-01-10-15-00-123_com.miui.home.png", local(2024, 5, 1, 10, 15, 0), FromFileName},
		{"Android screenshot name", []byte("\x89PNG\r\n\x1a\n"), "Screenshot_20240501-101500.png", local(2024, 5, 1, 10, 15, 0), FromFileName},
		{"EXIF with a zero date falls back", jpegWithEXIF("0000:00:00 00:00:00"), "photo.jpg", mtime, FromMTime},
		{"broken EXIF falls back without panic", append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x20}, []byte("Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff")...), "x.jpg", mtime, FromMTime},
		{"truncated moov falls back", append(ftyp("isom"), 0, 0, 0x10, 0, 'm', 'o', 'o', 'v'), "x.mp4", mtime, FromMTime},
		{"nothing known: mtime", []byte("plain"), "notes.txt", mtime, FromMTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mime := Sniff(tt.data)
			got, from := Taken(bytes.NewReader(tt.data), int64(len(tt.data)), mime, tt.file, mtime)
			if !got.Equal(tt.want) || from != tt.wantFrom {
				t.Errorf("Taken = %v from %s, want %v from %s", got, from, tt.want, tt.wantFrom)
			}
		})
	}
}

// sparse is a huge file whose bytes are zero except for a few regions;
// it counts the bytes read.
type sparse struct {
	size    int64
	regions map[int64][]byte
	read    int64
}

func (s *sparse) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > s.size {
		n = s.size - off
	}
	clear(p[:n])
	for at, b := range s.regions {
		for i := range b {
			if pos := at + int64(i); pos >= off && pos < off+n {
				p[pos-off] = b[i]
			}
		}
	}
	s.read += n
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// segment is a JPEG marker segment: FF m, its length, its data.
func segment(m byte, data []byte) []byte {
	b := []byte{0xFF, m, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(2+len(data)))
	return append(b, data...)
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r    io.ReaderAt
	read int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// noise is n bytes that look like a JPEG's scan data, with an APP1 marker
// and an EXIF header inside it, which must not be taken for the EXIF.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	fake := jpegWithEXIF("2001:01:01 01:01:01")[2:]
	copy(b[n/2:], fake)
	return b
}

// TestJPEGSegments: the EXIF block is found by walking the segments (an
// XMP APP1 before it does not hide it), and nothing after the image data
// starts is read.
func TestJPEGSegments(t *testing.T) {
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	exifSeg := jpegWithEXIF("2023:12:24 18:30:05")[2:]
	exifSeg = exifSeg[:len(exifSeg)-2] // without its EOI
	jfif := segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	xmp := segment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	sos := segment(0xDA, []byte{1, 1, 0, 0, 0x3F, 0})
	var empties []byte
	for range 100000 {
		empties = append(empties, segment(0xFE, nil)...)
	}
	tests := []struct {
		name     string
		data     []byte
		want     time.Time
		wantFrom string
		maxRead  int64
	}{
		{"EXIF after JFIF and XMP", bytes.Join([][]byte{{0xFF, 0xD8}, jfif, xmp, {0xFF, 0xFF}, exifSeg, sos, noise(50 << 10), {0xFF, 0xD9}}, nil),
			time.Date(2023, 12, 24, 18, 30, 5, 0, time.Local), FromEXIF, 4 << 10},
		{"no EXIF: the scan data is not searched", bytes.Join([][]byte{{0xFF, 0xD8}, jfif, sos, noise(1 << 20), {0xFF, 0xD9}}, nil),
			mtime, FromMTime, 256},
		{"a segment longer than the file", bytes.Join([][]byte{{0xFF, 0xD8}, jfif, {0xFF, 0xE1, 0xFF, 0xFF}, []byte("Exif\x00\x00MM")}, nil),
			mtime, FromMTime, 256},
		{"endless empty segments", bytes.Join([][]byte{{0xFF, 0xD8}, empties, exifSeg}, nil),
			mtime, FromMTime, 16 * jpegMaxSegments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &countingReaderAt{r: bytes.NewReader(tt.data)}
			got, from := Taken(r, int64(len(tt.data)), Sniff(tt.data), "photo.jpg", mtime)
			if !got.Equal(tt.want) || from != tt.wantFrom {
				t.Errorf("Taken = %v from %s, want %v from %s", got, from, tt.want, tt.wantFrom)
			}
			if r.read > tt.maxRead {
				t.Errorf("read %d of %d bytes, want at most %d", r.read, len(tt.data), tt.maxRead)
			}
		})
	}
}

// BenchmarkTakenJPEG: a photo's date from a 50 KiB JPEG, with and without
// EXIF (run: go test -bench TakenJPEG ./mapping/media).
func BenchmarkTakenJPEG(b *testing.B) {
	exifSeg := jpegWithEXIF("2023:12:24 18:30:05")[2:]
	exifSeg = exifSeg[:len(exifSeg)-2]
	sos := segment(0xDA, []byte{1, 1, 0, 0, 0x3F, 0})
	jfif := segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	for _, c := range []struct {
		name string
		data []byte
		from string
	}{
		{"exif", bytes.Join([][]byte{{0xFF, 0xD8}, exifSeg, sos, noise(50 << 10), {0xFF, 0xD9}}, nil), FromEXIF},
		{"no-exif", bytes.Join([][]byte{{0xFF, 0xD8}, jfif, sos, noise(50 << 10), {0xFF, 0xD9}}, nil), FromFileName},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := bytes.NewReader(c.data)
			b.ReportAllocs()
			for b.Loop() {
				if _, from := Taken(r, int64(len(c.data)), "image/jpeg", "IMG_20240501_101500.jpg", time.Time{}); from != c.from {
					b.Fatalf("from %s, want %s", from, c.from)
				}
			}
		})
	}
}

// TestMvhdAfterHugeMdat: a 5 GB video with moov at the end costs a few
// header reads, not the media data.
func TestMvhdAfterHugeMdat(t *testing.T) {
	head := ftyp("isom")
	mdat := make([]byte, 16)
	binary.BigEndian.PutUint32(mdat, 1) // 64-bit size follows
	copy(mdat[4:], "mdat")
	const mdatSize = 5 << 30
	binary.BigEndian.PutUint64(mdat[8:], mdatSize)
	moov := box("moov", mvhd(0, shot))
	at := int64(len(head)) + mdatSize
	f := &sparse{size: at + int64(len(moov)), regions: map[int64][]byte{0: head, int64(len(head)): mdat, at: moov}}
	got, from := Taken(f, f.size, "video/mp4", "x.mp4", time.Time{})
	if !got.Equal(shot) || from != FromMP4 {
		t.Errorf("Taken = %v from %s", got, from)
	}
	if f.read > 1024 {
		t.Errorf("read %d bytes to find mvhd", f.read)
	}
}

func TestNameDate(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"IMG_20240501_101500.jpg", true},
		{"IMG_20240501_101500_HDR.jpg", true},
		{"VID_20240501_101500.mp4", true},
		{"MVIMG_20240501_101500.jpg", true},
		{"PANO_20240501_101500.jpg", true},
		{`C:\DCIM\IMG_20240501_101500.jpg`, true},
		{"Screenshot_2024-05-01-10-15-00-123_com.tencent.mm.jpg", true},
		{"IMG_20241350_101500.jpg", false}, // month 13
		{"IMG_1234.jpg", false},
		{"19700101_000000.jpg", false}, // before 1971: a reset clock
	}
	for _, tt := range tests {
		if _, ok := NameDate(tt.name); ok != tt.ok {
			t.Errorf("NameDate(%q) ok = %v, want %v", tt.name, ok, tt.ok)
		}
	}
}

func TestIsThumbnailPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/DCIM/Camera/.thumbnailFile/IMG_1.jpg", true},
		{"/Android/data/com.miui.gallery/files/gallery_disk_cache/x", true},
		{"/DCIM/Camera/IMG_1.jpg", false},
		{"/Pictures/cache/thumbnails/a.jpg", true},
	}
	for _, tt := range tests {
		if got := IsThumbnailPath(tt.path); got != tt.want {
			t.Errorf("IsThumbnailPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestRecorderName(t *testing.T) {
	cases := []struct {
		in, want string
		ms       int64
		ok       bool
	}{
		{"MIUI/sound_recorder/Meeting.mp3_1_0_1714521600000_1714521900000", "MIUI/sound_recorder/Meeting.mp3", 1714521900000, true},
		{"Recordings/通话录音 138.m4a_2_1_987654_1714521600123", "Recordings/通话录音 138.m4a", 1714521600123, true},
		{"Music/song.mp3", "Music/song.mp3", 0, false},
		{"odd.mp3_1_0_12_34", "odd.mp3", 0, true},
	}
	for _, c := range cases {
		got, date, ok := RecorderName(c.in)
		if got != c.want || ok != c.ok || (c.ms != 0 && date.UnixMilli() != c.ms) || (c.ms == 0 && !date.IsZero()) {
			t.Errorf("RecorderName(%q) = %q, %v, %v", c.in, got, date, ok)
		}
	}
}
