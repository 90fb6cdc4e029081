package onedrive

import (
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// OneDrive refuses some characters in names and folds case. Names are
// mapped reversibly, as rclone does: refused characters become their
// full-width look-alikes, a name's leading or trailing space and trailing
// period become visible stand-ins, and a character that is itself one of
// these stand-ins is escaped with quote. A name that differs only in case
// from one already placed gets quote + a number before its extension
// ("img_1‛2.jpg"); decoding drops it, so both files keep their original
// path in List.
const quote = '‛' // U+201B

var wide = map[rune]rune{
	'\\': '＼', '*': '＊', '<': '＜', '>': '＞', '?': '？', ':': '：', '|': '｜', '"': '＂',
	// Refused on OneDrive for Business only; mapped everywhere so a
	// folder works on both.
	'#': '＃', '%': '％',
}

const (
	spaceStandIn  = '␠' // U+2420
	periodStandIn = '．' // U+FF0E
)

var narrow = func() map[rune]rune {
	m := map[rune]rune{spaceStandIn: ' ', periodStandIn: '.'}
	for k, v := range wide {
		m[v] = k
	}
	return m
}()

// encodeName maps one path segment to a name OneDrive accepts.
func encodeName(s string) string {
	var b strings.Builder
	n := utf8.RuneCountInString(s)
	i := 0
	for _, r := range s {
		switch {
		case r == quote || narrow[r] != 0:
			b.WriteRune(quote)
			b.WriteRune(r)
		case wide[r] != 0:
			b.WriteRune(wide[r])
		case r == ' ' && (i == 0 || i == n-1):
			b.WriteRune(spaceStandIn)
		case r == '.' && i == n-1:
			b.WriteRune(periodStandIn)
		default:
			b.WriteRune(r)
		}
		i++
	}
	return b.String()
}

// decodeName is encodeName's inverse; it also drops a case-clash marker.
func decodeName(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == quote && i+1 < len(rs) && rs[i+1] >= '0' && rs[i+1] <= '9':
			for i+1 < len(rs) && rs[i+1] >= '0' && rs[i+1] <= '9' {
				i++
			}
		case r == quote && i+1 < len(rs):
			i++
			b.WriteRune(rs[i])
		case narrow[r] != 0:
			b.WriteRune(narrow[r])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// markClash inserts the n-th case-clash marker before the extension.
func markClash(enc string, n int) string {
	ext := path.Ext(enc)
	if ext == enc {
		ext = ""
	}
	return strings.TrimSuffix(enc, ext) + string(quote) + strconv.Itoa(n) + ext
}

// decodePath decodes every segment of a slash-separated remote path.
func decodePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = decodeName(s)
	}
	return strings.Join(segs, "/")
}

// namer gives each snapshot path its remote path, folder by folder, so
// paths that OneDrive would take for the same one (same letters in another
// case) stay apart. Paths must be fed in a stable order (sorted) for a
// re-run to pick the same names.
type namer struct {
	byOrig map[string]string // snapshot prefix -> remote prefix
	taken  map[string]string // lower-cased remote prefix -> snapshot prefix
}

func newNamer() *namer {
	return &namer{byOrig: map[string]string{}, taken: map[string]string{}}
}

// assign returns the remote path for a snapshot path, and whether it had
// to differ from the plain encoding because of a case clash.
func (n *namer) assign(orig string) (string, bool) {
	segs := strings.Split(orig, "/")
	parent := ""
	for i, seg := range segs {
		prefix := strings.Join(segs[:i+1], "/")
		if r, ok := n.byOrig[prefix]; ok {
			parent = r
			continue
		}
		enc := encodeName(seg)
		cand := join(parent, enc)
		for k := 2; ; k++ {
			o, ok := n.taken[strings.ToLower(cand)]
			if !ok || o == prefix {
				break
			}
			cand = join(parent, markClash(enc, k))
		}
		n.taken[strings.ToLower(cand)] = prefix
		n.byOrig[prefix] = cand
		parent = cand
	}
	for i, seg := range segs {
		segs[i] = encodeName(seg)
	}
	return parent, parent != strings.Join(segs, "/")
}

// claim gives the snapshot path orig the remote path it was stored under
// before (a ledger record), if that still decodes to orig and no other
// path of this run holds any of its names; it reports whether it did.
// Claims go first, so names given before stay what they were whatever
// order the paths come in.
func (n *namer) claim(orig, remote string) bool {
	segs, rsegs := strings.Split(orig, "/"), strings.Split(remote, "/")
	if len(segs) != len(rsegs) {
		return false
	}
	for i := range segs {
		prefix, rprefix := strings.Join(segs[:i+1], "/"), strings.Join(rsegs[:i+1], "/")
		if decodeName(rsegs[i]) != segs[i] {
			return false
		}
		if r, ok := n.byOrig[prefix]; ok && r != rprefix {
			return false
		}
		if o, ok := n.taken[strings.ToLower(rprefix)]; ok && o != prefix {
			return false
		}
	}
	for i := range segs {
		prefix, rprefix := strings.Join(segs[:i+1], "/"), strings.Join(rsegs[:i+1], "/")
		n.byOrig[prefix] = rprefix
		n.taken[strings.ToLower(rprefix)] = prefix
	}
	return true
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "/" + b
}
