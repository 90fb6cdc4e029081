package dropbox

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/snapshot"
)

// Dropbox refuses some names a phone happily holds (a backslash, DEL, a
// trailing space) and treats names differing only in case as one. Names
// are therefore mapped, reversibly, one path segment at a time:
//
//   - a refused character becomes a look-alike: '\' -> '＼', DEL -> '␡',
//     a trailing space -> '␠';
//   - a literal look-alike or escape mark in the original is prefixed with
//     the escape mark '‛', so decoding never confuses the two;
//   - a segment that differs only in case from one already placed in the
//     same folder gets '‛<n>' before its extension (IMG_1.JPG stays,
//     img_1.jpg becomes img_1‛2.jpg), which decoding drops.
//
// List decodes what it finds, so verify sees the snapshot's own paths.
const (
	escMark  = '‛'
	backsl   = '＼'
	delChar  = '␡'
	trailSpc = '␠'
)

func special(r rune) bool { return r == escMark || r == backsl || r == delChar || r == trailSpc }

// encodeSegment maps the characters of one name Dropbox would refuse.
func encodeSegment(s string) string {
	trail := len(s) - len(strings.TrimRight(s, " "))
	body := s[:len(s)-trail]
	var b strings.Builder
	for _, r := range body {
		switch {
		case special(r):
			b.WriteRune(escMark)
			b.WriteRune(r)
		case r == '\\':
			b.WriteRune(backsl)
		case r == 0x7f:
			b.WriteRune(delChar)
		default:
			b.WriteRune(r)
		}
	}
	for range trail {
		b.WriteRune(trailSpc)
	}
	return b.String()
}

// decodeSegment reverses encodeSegment and drops a case-collision mark.
func decodeSegment(s string) string {
	if !strings.ContainsFunc(s, special) {
		return s
	}
	rs := []rune(s)
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch r {
		case escMark:
			if i+1 < len(rs) && special(rs[i+1]) {
				b.WriteRune(rs[i+1])
				i++
				continue
			}
			for i+1 < len(rs) && rs[i+1] >= '0' && rs[i+1] <= '9' {
				i++
			}
		case backsl:
			b.WriteByte('\\')
		case delChar:
			b.WriteByte(0x7f)
		case trailSpc:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// withCollisionMark puts '‛n' before the extension of an encoded name.
func withCollisionMark(enc string, n int) string {
	ext := path.Ext(enc)
	if ext == enc {
		ext = ""
	}
	return strings.TrimSuffix(enc, ext) + string(escMark) + strconv.Itoa(n) + ext
}

// decodePath turns a path relative to the destination folder back into the
// snapshot path it was made from.
func decodePath(rel string) string {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = decodeSegment(s)
	}
	return strings.Join(segs, "/")
}

// namer places snapshot paths under a folder, giving each path segment the
// same remote name for the whole run. Assignments follow manifest order,
// which is stable, so a re-run of the same snapshot gets the same names.
type namer struct {
	folder string

	mu       sync.Mutex
	assigned map[string]string // parent remote path + "\x00" + encoded segment -> remote segment
	taken    map[string]bool   // lower-cased remote paths in use
}

func newNamer(folder string) *namer {
	return &namer{folder: folder, assigned: map[string]string{}, taken: map[string]bool{}}
}

// remote returns the Dropbox path for a snapshot path, and whether it had
// to be changed from the plain folder + path.
func (n *namer) remote(rel string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.folder
	changed := false
	for _, seg := range strings.Split(rel, "/") {
		enc := encodeSegment(seg)
		k := cur + "\x00" + enc
		final, ok := n.assigned[k]
		if !ok {
			final = enc
			for i := 2; n.taken[strings.ToLower(cur+"/"+final)]; i++ {
				final = withCollisionMark(enc, i)
			}
			n.assigned[k] = final
			n.taken[strings.ToLower(cur+"/"+final)] = true
		}
		if final != seg {
			changed = true
		}
		cur += "/" + final
	}
	return cur, changed
}

// claim gives rel the remote path it had in an earlier run, if no other
// path of this run holds any of its names; it reports whether it did.
func (n *namer) claim(rel, remote string) bool {
	segs := strings.Split(rel, "/")
	rsegs := strings.Split(strings.TrimPrefix(remote, n.folder+"/"), "/")
	if !strings.HasPrefix(remote, n.folder+"/") || len(segs) != len(rsegs) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	type step struct{ k, taken, final string }
	var steps []step
	cur := n.folder
	for i, seg := range segs {
		enc := encodeSegment(seg)
		final := rsegs[i]
		if decodeSegment(final) != seg {
			return false
		}
		k := cur + "\x00" + enc
		tk := strings.ToLower(cur + "/" + final)
		if a, ok := n.assigned[k]; ok && a != final {
			return false
		} else if !ok && n.taken[tk] {
			return false
		}
		steps = append(steps, step{k, tk, final})
		cur += "/" + final
	}
	for _, st := range steps {
		n.assigned[st.k] = st.final
		n.taken[st.taken] = true
	}
	return true
}

// placed is where one snapshot path goes.
type placed struct {
	remote string
	mapped bool // differs from folder + path
}

// plan names every whole file of the snapshot before anything is
// uploaded, so names do not depend on the manifest's order (which
// concurrent exports do not keep) and stay what they were: a path keeps
// the remote name the ledger recorded for it, and the others take names
// in byte order, so IMG_1.JPG keeps its name before img_1.jpg.
func (im *Importer) plan(snap *snapshot.Reader, led *ledger.Ledger, dest string) (map[string]placed, error) {
	n := newNamer(im.cfg.Folder)
	out := map[string]placed{}
	var rest []string
	for e, err := range snap.Files() {
		if err != nil {
			return nil, err
		}
		if _, dup := out[e.Path]; dup {
			continue
		}
		rec, ok, err := led.Get(dest, e.Path)
		if err != nil {
			return nil, err
		}
		if p := rec.Extra["path"]; ok && p != "" && n.claim(e.Path, p) {
			out[e.Path] = placed{remote: p, mapped: p != im.cfg.Folder+"/"+e.Path}
			continue
		}
		out[e.Path] = placed{}
		rest = append(rest, e.Path)
	}
	// The snapshot's own documents first: List fetches them by their plain
	// names, so an attachment such as Contacts/x must not push
	// contacts/contacts.vcf aside.
	doc := func(p string) bool {
		switch p {
		case snapshot.ContactsPath, snapshot.MessagesPath, snapshot.CallsPath, snapshot.SMSXMLPath, snapshot.CallsXMLPath:
			return true
		}
		return false
	}
	slices.SortFunc(rest, func(a, b string) int {
		if da, db := doc(a), doc(b); da != db {
			if da {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, p := range rest {
		r, mapped := n.remote(p)
		out[p] = placed{remote: r, mapped: mapped}
	}
	return out, nil
}
