package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	_ "image/gif" // decoders for thumbnails
	"image/jpeg"
	_ "image/png"
	"io"
	"os"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

// Picture is one picture report.html shows as a thumbnail with a caption:
// a photo that exists only as a reduced copy, a file that failed, a
// contact whose fields were moved to notes (with its photo, if any).
type Picture struct {
	Title string // caption, e.g. the item's path
	Note  string // why it is shown
	// File is a local path to the picture; empty or unreadable shows the
	// caption alone.
	File string
	// Data is the picture itself, when it is small and in memory (a
	// contact's photo); it wins over File.
	Data []byte
}

// ThumbSize is the longest side of a thumbnail, in pixels.
const ThumbSize = 160

// maxPixels refuses to decode images larger than this, so a hostile file
// with huge declared dimensions cannot exhaust memory.
const maxPixels = 64 << 20

type thumb struct {
	Title, Note string
	Src         template.URL
}

// thumbnail decodes the picture at path and returns a small JPEG as a
// data: URI, or "" when the file is not a picture it can read.
func thumbnail(path string) (template.URL, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return thumbnailOf(f, path)
}

// thumbnailOf is thumbnail for a picture already open (or in memory).
func thumbnailOf(f io.ReadSeeker, path string) (template.URL, error) {
	br := bufio.NewReader(f)
	cfg, _, err := image.DecodeConfig(br)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return "", fmt.Errorf("%s: %dx%d picture too large for a thumbnail", path, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > ThumbSize || h > ThumbSize {
		if w >= h {
			w, h = ThumbSize, max(1, h*ThumbSize/b.Dx())
		} else {
			w, h = max(1, w*ThumbSize/b.Dy()), ThumbSize
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 80}); err != nil {
		return "", err
	}
	// Built from a fixed type and base64 only: safe to mark as a URL.
	return template.URL("data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(out.Bytes())), nil
}

func thumbs(ps []Picture) []thumb {
	out := make([]thumb, 0, len(ps))
	for _, p := range ps {
		t := thumb{Title: p.Title, Note: p.Note}
		// An unreadable picture still gets its caption: the list matters
		// more than the image.
		switch {
		case p.Data != nil:
			t.Src, _ = thumbnailOf(bytes.NewReader(p.Data), p.Title)
		case p.File != "":
			t.Src, _ = thumbnail(p.File)
		}
		out = append(out, t)
	}
	return out
}

// Thumb is a picture ready to show elsewhere (the local web page): its
// caption, why it is shown, and a reduced JPEG as a data: URI, "" when the
// picture could not be read.
type Thumb struct {
	Title string `json:"title"`
	Note  string `json:"note"`
	Src   string `json:"src,omitempty"`
}

// Thumbnails decodes ps one at a time into reduced copies, as report.html
// shows them.
func Thumbnails(ps []Picture) []Thumb {
	var out []Thumb
	for _, t := range thumbs(ps) {
		out = append(out, Thumb{Title: t.Title, Note: t.Note, Src: string(t.Src)})
	}
	return out
}
