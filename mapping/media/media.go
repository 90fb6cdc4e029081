// Package media recognizes photo, video and audio files by their bytes and
// finds the date they were taken.
package media

import (
	"bytes"
	"encoding/binary"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/rwcarlsen/goexif/exif"
)

// SniffLen is how many leading bytes Sniff needs.
const SniffLen = 64

// Sniff returns the MIME type of a media file from its first bytes, or ""
// when they are not a photo, video or audio file miexit knows. Extensions
// lie (MIUI saves PNG screenshots as .jpg), so only bytes count.
func Sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "image/gif"
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp"
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return "audio/wav"
	case bytes.HasPrefix(head, []byte("BM")) && len(head) >= 14:
		return "image/bmp"
	case bytes.HasPrefix(head, []byte("ID3")), len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0 && head[1]&0x06 != 0:
		return "audio/mpeg"
	case bytes.HasPrefix(head, []byte("#!AMR")):
		return "audio/amr"
	case bytes.HasPrefix(head, []byte("OggS")):
		return "audio/ogg"
	case bytes.HasPrefix(head, []byte("fLaC")):
		return "audio/flac"
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return ftypMIME(string(head[8:12]))
	}
	return ""
}

func ftypMIME(brand string) string {
	switch brand {
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
		return "image/heic"
	case "avif", "avis":
		return "image/avif"
	case "qt  ":
		return "video/quicktime"
	case "3gp4", "3gp5", "3gp6", "3gp7", "3g2a", "3ge6", "3gg6":
		return "video/3gpp"
	case "M4A ", "M4B ":
		return "audio/mp4"
	}
	return "video/mp4"
}

// extTypes maps file-name extensions to the MIME type their bytes should
// sniff as.
var extTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heic", ".avif": "image/avif",
	".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".3gp": "video/3gpp",
	".bmp": "image/bmp", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".amr": "audio/amr",
	".ogg": "audio/ogg", ".flac": "audio/flac", ".m4a": "audio/mp4",
}

// ExtensionLies reports whether a file's extension names another type than
// its bytes (MIUI saves PNG screenshots as .jpg), returning the type the
// extension claims. An unknown extension or unknown bytes never lie.
func ExtensionLies(name, sniffed string) (claimed string, lies bool) {
	claimed = extTypes[strings.ToLower(path.Ext(name))]
	if claimed == "" || sniffed == "" {
		return claimed, false
	}
	return claimed, claimed != sniffed
}

// IsVideo reports whether a MIME type is a video.
func IsVideo(mime string) bool { return strings.HasPrefix(mime, "video/") }

// Date sources, recorded in the manifest's taken_from.
const (
	FromEXIF     = "exif"
	FromMP4      = "mp4"
	FromFileName = "filename"
	FromSource   = "source"
	FromMTime    = "mtime"
)

// Taken finds the date a photo or video was taken: EXIF DateTimeOriginal,
// the MP4 movie header, the MIUI file-name pattern, else the file's mtime.
// r must allow random access because EXIF and the mvhd box can sit anywhere.
func Taken(r io.ReaderAt, size int64, mime, name string, mtime time.Time) (time.Time, string) {
	switch {
	case mime == "image/jpeg":
		if x, ok := jpegExif(r, size); ok {
			if t, ok := exifDate(x); ok {
				return t, FromEXIF
			}
		}
	case IsVideo(mime):
		if t, ok := mvhdDate(r, size); ok {
			return t, FromMP4
		}
	}
	if t, ok := NameDate(name); ok {
		return t, FromFileName
	}
	return mtime, FromMTime
}

// jpegMaxSegments bounds the walk over a JPEG's header segments: a camera
// writes a dozen before the image data, a hostile file could write
// millions of empty ones.
const jpegMaxSegments = 1024

// jpegExif finds the EXIF block ("Exif\0\0" and its TIFF data) among the
// segments before a JPEG's image data. goexif looks for it by scanning
// byte by byte for an APP1 marker, so a photo without EXIF (messengers
// strip it) was read to its end, and an XMP APP1 before the EXIF one hid
// the date; walking the segments by their lengths costs a few small reads
// and stops where the image data starts.
func jpegExif(r io.ReaderAt, size int64) (io.Reader, bool) {
	var b [10]byte
	if _, err := r.ReadAt(b[:2], 0); err != nil || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, false
	}
	off := int64(2)
	for range jpegMaxSegments {
		if n, err := r.ReadAt(b[:], off); n < 4 && err != nil {
			return nil, false
		}
		if b[0] != 0xFF {
			return nil, false
		}
		switch m := b[1]; {
		case m == 0xFF: // fill byte before a marker
			off++
			continue
		case m == 0x01 || m >= 0xD0 && m <= 0xD8: // markers without a length
			off += 2
			continue
		case m == 0xDA || m == 0xD9: // the image data, or the end: no EXIF
			return nil, false
		}
		n := int64(binary.BigEndian.Uint16(b[2:4]))
		if n < 2 || off+2+n > size {
			return nil, false
		}
		if b[1] == 0xE1 && n >= 2+6 && string(b[4:10]) == "Exif\x00\x00" {
			return io.NewSectionReader(r, off+4, n-2), true
		}
		off += 2 + n
	}
	return nil, false
}

func exifDate(r io.Reader) (t time.Time, ok bool) {
	defer func() {
		// goexif can panic on hostile input; a bad EXIF block must only
		// cost the date, never the photo.
		if recover() != nil {
			ok = false
		}
	}()
	x, err := exif.Decode(r)
	if err != nil {
		return time.Time{}, false
	}
	tag, err := x.Get(exif.DateTimeOriginal)
	if err != nil {
		return time.Time{}, false
	}
	s, err := tag.StringVal()
	if err != nil {
		return time.Time{}, false
	}
	t, err = time.ParseInLocation("2006:01:02 15:04:05", strings.TrimSpace(s), time.Local)
	if err != nil || t.Year() < 1971 {
		return time.Time{}, false
	}
	return t, true
}

// mp4Epoch is 1904-01-01, where QuickTime counts seconds from.
var mp4Epoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)

// mvhdDate walks the top-level boxes to moov/mvhd without reading the media
// data, so a 4 GB video costs a few small reads.
func mvhdDate(r io.ReaderAt, size int64) (time.Time, bool) {
	moov, moovSize, ok := findBox(r, 0, size, "moov")
	if !ok {
		return time.Time{}, false
	}
	mvhd, _, ok := findBox(r, moov, moov+moovSize, "mvhd")
	if !ok {
		return time.Time{}, false
	}
	var b [12]byte
	if _, err := r.ReadAt(b[:], mvhd); err != nil {
		return time.Time{}, false
	}
	var secs uint64
	if b[0] == 1 {
		secs = binary.BigEndian.Uint64(b[4:12])
	} else {
		secs = uint64(binary.BigEndian.Uint32(b[4:8]))
	}
	if secs == 0 || secs > 1<<40 {
		return time.Time{}, false
	}
	t := mp4Epoch.Add(time.Duration(secs) * time.Second)
	if t.Year() < 1971 {
		return time.Time{}, false
	}
	return t, true
}

// findBox returns the payload offset and size of the first box named typ
// between start and end.
func findBox(r io.ReaderAt, start, end int64, typ string) (int64, int64, bool) {
	var h [16]byte
	for off := start; off+8 <= end; {
		if _, err := r.ReadAt(h[:8], off); err != nil {
			return 0, 0, false
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		hdr := int64(8)
		switch n {
		case 1:
			if _, err := r.ReadAt(h[8:16], off+8); err != nil {
				return 0, 0, false
			}
			n = int64(binary.BigEndian.Uint64(h[8:16]))
			hdr = 16
		case 0:
			n = end - off
		}
		if n < hdr || off+n > end {
			return 0, 0, false
		}
		if string(h[4:8]) == typ {
			return off + hdr, n - hdr, true
		}
		off += n
	}
	return 0, 0, false
}

var namePatterns = []struct {
	re     *regexp.Regexp
	layout string
}{
	// IMG_20240501_101500.jpg, VID_20240501_101500.mp4, MVIMG_..., PANO_...
	{regexp.MustCompile(`(?:^|_)(\d{8}_\d{6})`), "20060102_150405"},
	// Screenshot_2024-05-01-10-15-00-123_com.app.png
	{regexp.MustCompile(`Screenshot_(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})`), "2006-01-02-15-04-05"},
	// Screenshot_20240501-101500.png (stock Android)
	{regexp.MustCompile(`Screenshot_(\d{8}-\d{6})`), "20060102-150405"},
}

// NameDate reads a date from a MIUI camera or screenshot file name.
func NameDate(name string) (time.Time, bool) {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	for _, p := range namePatterns {
		m := p.re.FindStringSubmatch(base)
		if m == nil {
			continue
		}
		t, err := time.ParseInLocation(p.layout, m[1], time.Local)
		if err == nil && t.Year() >= 1971 {
			return t, true
		}
	}
	return time.Time{}, false
}

// IsThumbnailPath reports whether a phone path is one of MIUI's reduced
// copies, which must never be counted as an original.
func IsThumbnailPath(p string) bool {
	p = strings.ToLower(strings.ReplaceAll(p, "\\", "/"))
	return strings.Contains(p, "/.thumbnailfile/") || strings.HasPrefix(p, ".thumbnailfile/") ||
		strings.Contains(p, "gallery_disk_cache/") || strings.Contains(p, "/.cache/") ||
		strings.Contains(p, "/cache/thumbnails/")
}

// recorderName matches the names MIUI's recorder and Mi Cloud give
// recordings: "<name>.<ext>_<n>_<type>_<a>_<b>", where a and b are the
// created and modified times in ms (downloads) or an id and the created
// time (Mi Cloud listings).
var recorderName = regexp.MustCompile(`^(.+\.[A-Za-z0-9]{2,5})_(\d+)_(\d+)_(\d+)_(\d+)$`)

// RecorderName restores a MIUI recording's real name ("Meeting.mp3" from
// "Meeting.mp3_1_0_1714521600000_1714521900000") and its date.
func RecorderName(name string) (real string, date time.Time, ok bool) {
	dir, base := path.Split(strings.ReplaceAll(name, "\\", "/"))
	m := recorderName.FindStringSubmatch(base)
	if m == nil {
		return name, time.Time{}, false
	}
	ms := func(s string) (time.Time, bool) {
		if len(s) < 12 || len(s) > 13 {
			return time.Time{}, false
		}
		var v int64
		for _, c := range s {
			v = v*10 + int64(c-'0')
		}
		t := time.UnixMilli(v)
		return t, t.Year() >= 2005 && t.Year() < 2100
	}
	a, aok := ms(m[4])
	b, bok := ms(m[5])
	switch {
	case aok && bok:
		// created, modified: the file's date is when it was last written.
		date = b
	case bok:
		date = b
	case aok:
		date = a
	}
	return dir + m[1], date, true
}
