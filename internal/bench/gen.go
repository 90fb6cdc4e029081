// Package bench measures miexit against the stock tools (cp -r, rclone
// copy) on a generated phone folder and prints the figures as a Markdown
// table. cmd/miexit-bench is its command; a test runs it at a tiny size so
// CI proves it still works. Nothing here asserts speed.
package bench

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/miexit/miexit/mapping"
)

// Size is what the generated phone holds.
type Size struct {
	Photos   int // small JPEG-looking files
	PhotoKB  int // mean size of one photo
	Videos   int // large MP4-looking files
	VideoMB  int // size of one video
	SMS      int // messages in messages.jsonl
	Contacts int // vCards, each with a small photo
}

// Default runs in a couple of minutes on a 2-core machine: 2,000 media of
// about 200 MB.
var Default = Size{Photos: 1996, PhotoKB: 50, Videos: 4, VideoMB: 25, SMS: 20000, Contacts: 1000}

// Full is issue 9's size: 5,000 media of about 1 GB, 100,000 SMS, 5,000
// contacts.
var Full = Size{Photos: 4990, PhotoKB: 100, Videos: 10, VideoMB: 50, SMS: 100000, Contacts: 5000}

// Tiny runs in seconds, for the CI test.
var Tiny = Size{Photos: 40, PhotoKB: 4, Videos: 1, VideoMB: 1, SMS: 200, Contacts: 20}

// Media is the number of media files.
func (s Size) Media() int { return s.Photos + s.Videos }

// Generated says what Generate wrote.
type Generated struct {
	Files int
	Bytes int64
}

// Generate writes a synthetic phone folder: DCIM photos and videos
// recognized by their bytes, messages/messages.jsonl and
// contacts/contacts.vcf. The content is seeded, so runs compare.
func Generate(ctx context.Context, dir string, s Size) (Generated, error) {
	var g Generated
	rng := rand.New(rand.NewChaCha8([32]byte{9}))
	base := time.Date(2023, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < s.Photos; i++ {
		if err := ctx.Err(); err != nil {
			return g, err
		}
		// Sizes vary from half to one and a half times the mean, as
		// phone photos do.
		n := s.PhotoKB<<10/2 + rng.IntN(s.PhotoKB<<10+1)
		p := filepath.Join(dir, "DCIM", fmt.Sprintf("Camera%02d", i/500), fmt.Sprintf("IMG_%06d.jpg", i))
		if err := writeMedia(p, jpegHeader(), n, rng, base.Add(time.Duration(i)*time.Hour)); err != nil {
			return g, err
		}
		g.Files++
		g.Bytes += int64(n)
	}
	for i := 0; i < s.Videos; i++ {
		n := s.VideoMB << 20
		p := filepath.Join(dir, "DCIM", "Video", fmt.Sprintf("VID_%04d.mp4", i))
		if err := writeMedia(p, mp4Header(base.Add(time.Duration(i)*24*time.Hour)), n, rng, base.Add(time.Duration(i)*24*time.Hour)); err != nil {
			return g, err
		}
		g.Files++
		g.Bytes += int64(n)
	}
	if s.SMS > 0 {
		n, err := writeSMS(filepath.Join(dir, "messages", "messages.jsonl"), s.SMS, rng, base)
		if err != nil {
			return g, err
		}
		g.Files++
		g.Bytes += n
	}
	if s.Contacts > 0 {
		n, err := writeContacts(filepath.Join(dir, "contacts", "contacts.vcf"), s.Contacts, rng)
		if err != nil {
			return g, err
		}
		g.Files++
		g.Bytes += n
	}
	return g, nil
}

// GenerateSmall writes n small photos of kb KiB, for the memory figures.
func GenerateSmall(ctx context.Context, dir string, n, kb int) error {
	rng := rand.New(rand.NewChaCha8([32]byte{10}))
	base := time.Date(2022, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, "DCIM", fmt.Sprintf("Camera%03d", i/500), fmt.Sprintf("IMG_%07d.jpg", i))
		if err := writeMedia(p, jpegHeader(), kb<<10, rng, base.Add(time.Duration(i)*time.Minute)); err != nil {
			return err
		}
	}
	return nil
}

func jpegHeader() []byte {
	return []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
}

// mp4Header is ftyp and moov/mvhd with a creation time; the rest of the
// file is mdat.
func mp4Header(created time.Time) []byte {
	box := func(typ string, payload []byte) []byte {
		b := make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint32(b, uint32(8+len(payload)))
		copy(b[4:], typ)
		return append(b, payload...)
	}
	secs := uint32(created.Sub(time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)) / time.Second)
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[4:], secs)
	binary.BigEndian.PutUint32(mvhd[8:], secs)
	binary.BigEndian.PutUint32(mvhd[12:], 1000)
	binary.BigEndian.PutUint32(mvhd[16:], 60000)
	h := box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41"))
	return append(h, box("moov", box("mvhd", mvhd))...)
}

// writeMedia writes header then random bytes up to n, streaming so large
// videos never sit in memory.
func writeMedia(p string, header []byte, n int, rng *rand.Rand, mtime time.Time) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	left := n
	if len(header) > left {
		header = header[:left]
	}
	w.Write(header)
	left -= len(header)
	if bytesMP4(header) && left >= 8 {
		// One mdat box covering the rest of the file.
		var mdat [8]byte
		binary.BigEndian.PutUint32(mdat[:], uint32(left))
		copy(mdat[4:], "mdat")
		w.Write(mdat[:])
		left -= 8
	}
	var buf [32 << 10]byte
	for left > 0 {
		k := min(left, len(buf))
		for i := 0; i+8 <= k; i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
		if _, err := w.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		left -= k
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chtimes(p, mtime, mtime)
}

func bytesMP4(h []byte) bool { return len(h) >= 8 && string(h[4:8]) == "ftyp" }

var words = []string{"see", "you", "tomorrow", "the", "tea", "is", "ready", "call", "me", "when", "home", "验证码", "明天见", "😀", "OK", "thanks"}

func writeSMS(p string, n int, rng *rand.Rand, base time.Time) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: f}
	w := bufio.NewWriterSize(cw, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := 0; i < n; i++ {
		body := ""
		for k := 3 + rng.IntN(20); k > 0; k-- {
			body += words[rng.IntN(len(words))] + " "
		}
		m := mapping.Message{
			Type: "sms", Box: 1 + rng.IntN(2), Address: fmt.Sprintf("+861380013%04d", rng.IntN(200)),
			Date: base.Add(time.Duration(i) * time.Minute), Read: true, Body: body,
		}
		if err := enc.Encode(&m); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return cw.n, f.Close()
}

var labels = []string{"Family", "Work", "Friends"}

func writeContacts(p string, n int, rng *rand.Rand) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: f}
	w := bufio.NewWriterSize(cw, 1<<20)
	photo := make([]byte, 1500)
	for i := 0; i < n; i++ {
		copy(photo, jpegHeader())
		for k := len(jpegHeader()); k < len(photo); k++ {
			photo[k] = byte(rng.Uint32())
		}
		// One contact in five carries one of three labels, as groups do on
		// a real phone.
		cat := ""
		if i%5 == 0 {
			cat = "CATEGORIES:" + labels[(i/5)%len(labels)] + "\r\n"
		}
		fmt.Fprintf(w, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %05d\r\nN:%05d;Person;;;\r\nTEL;TYPE=CELL:+86 138 %04d %04d\r\nEMAIL;TYPE=HOME:p%05d@example.com\r\n%sPHOTO;ENCODING=b;TYPE=JPEG:%s\r\nEND:VCARD\r\n",
			i, i, i/10000, i%10000, i, cat, base64.StdEncoding.EncodeToString(photo))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return cw.n, f.Close()
}

type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
