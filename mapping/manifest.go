package mapping

import (
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Entry is one line of a snapshot's manifest: an item, or a file that is not
// itself an item. Verify compares entries, not files, so a contact missing
// from a destination is named even though all contacts share one file.
type Entry struct {
	Kind Kind   `json:"kind"`
	Key  string `json:"key"`
	// Path is where the item lives, relative to the snapshot root, with
	// forward slashes. Several contacts share contacts/contacts.vcf.
	Path string `json:"path"`
	// Size and SHA256 are of the item's bytes: the whole file for media,
	// notes and files; the item's own record (its vCard, its JSON line)
	// for contacts, messages and calls.
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Modified time.Time `json:"modified,omitzero"`
	// Taken is the date a photo or video was taken, and TakenFrom says how
	// it was found ("exif", "mp4", "filename", "source", "mtime").
	Taken     time.Time `json:"taken,omitzero"`
	TakenFrom string    `json:"taken_from,omitempty"`
	MIME      string    `json:"mime,omitempty"`
}

// Remote is one item as a destination really holds it, for verify.
type Remote struct {
	Kind Kind
	Key  string
	Path string
	Size int64
	// SHA256 is set when the destination can give it. Otherwise Hash holds
	// the destination's own checksum, of the type the importer names.
	SHA256 string
	Hash   string
}

// maxPathLen bounds a relative path. Real file systems allow 4096 bytes for
// a path and 255 for a name; we stay under both so a snapshot copies anywhere.
const (
	maxPathLen = 3000
	maxNameLen = 255
)

// CleanRelPath checks that p, a path from an untrusted source (an archive
// member, a phone, a server), is a plain relative path that stays inside the
// directory it is joined to, and returns it cleaned. It refuses absolute
// paths, "..", empty names, NUL and other control characters, invalid UTF-8,
// and over-long names, naming the path in the error.
func CleanRelPath(p string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: path %q: %s", ErrBadInput, p, why)
	}
	if p == "" {
		return bad("empty")
	}
	if !utf8.ValidString(p) {
		return bad("not valid UTF-8")
	}
	if len(p) > maxPathLen {
		return bad("too long")
	}
	p = strings.ReplaceAll(p, "\\", "/")
	if strings.HasPrefix(p, "/") || (len(p) >= 2 && p[1] == ':') {
		return bad("absolute")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return bad("leaves its folder")
		}
		if len(seg) > maxNameLen {
			return bad("name too long")
		}
	}
	c := path.Clean(p)
	if c == "." || c == "" {
		return bad("names no file")
	}
	return c, nil
}
