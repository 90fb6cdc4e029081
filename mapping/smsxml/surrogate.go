package smsxml

import (
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/transform"
)

// JoinSurrogates returns a reader that rewrites each pair of UTF-16
// surrogate character references ("&#55357;&#56846;", decimal or hex), which
// SMS Backup & Restore writes for emoji and XML forbids, into the UTF-8
// bytes of the character they encode. encoding/xml would otherwise turn each
// half into U+FFFD without a word. A lone surrogate is left as it is.
//
// It also carries control characters XML 1.0 forbids (U+0000-U+001F but
// tab, LF and CR), raw or as references, which would make encoding/xml
// reject the whole file: each becomes U+10FF00 plus its code, a private-use
// character no message holds, and RestoreControls turns it back.
func JoinSurrogates(r io.Reader) io.Reader {
	return transform.NewReader(r, surrogateJoiner{})
}

// controlBase is where JoinSurrogates parks forbidden control characters.
const controlBase = 0x10FF00

// RestoreControls undoes JoinSurrogates' parking of control characters in
// a decoded value.
func RestoreControls(s string) string {
	if !containsParked(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r >= controlBase && r < controlBase+0x20 {
			return r - controlBase
		}
		return r
	}, s)
}

func containsParked(s string) bool {
	for _, r := range s {
		if r >= controlBase && r < controlBase+0x20 {
			return true
		}
	}
	return false
}

func forbiddenControl(c int) bool { return c < 0x20 && c != '\t' && c != '\n' && c != '\r' }

type surrogateJoiner struct{ transform.NopResetter }

// maxRef is the longest character reference parsed ("&#x0010FFFF;" fits).
const maxRef = 12

func (surrogateJoiner) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		if forbiddenControl(int(c)) {
			if len(dst)-nDst < utf8.UTFMax {
				return nDst, nSrc, transform.ErrShortDst
			}
			nDst += utf8.EncodeRune(dst[nDst:], rune(controlBase+int(c)))
			nSrc++
			continue
		}
		if c != '&' {
			// Copy the run up to the next '&' or control byte in one go.
			end := nSrc + 1
			for end < len(src) && src[end] != '&' && !forbiddenControl(int(src[end])) {
				end++
			}
			n := copy(dst[nDst:], src[nSrc:end])
			nDst += n
			nSrc += n
			if nSrc < end {
				return nDst, nSrc, transform.ErrShortDst
			}
			continue
		}
		hi, n1, ok := parseRef(src[nSrc:], atEOF)
		if !ok && n1 < 0 {
			return nDst, nSrc, transform.ErrShortSrc
		}
		if ok && forbiddenControl(hi) {
			if len(dst)-nDst < utf8.UTFMax {
				return nDst, nSrc, transform.ErrShortDst
			}
			nDst += utf8.EncodeRune(dst[nDst:], rune(controlBase+hi))
			nSrc += n1
			continue
		}
		if ok && utf16.IsSurrogate(rune(hi)) && hi < 0xDC00 {
			lo, n2, ok2 := parseRef(src[nSrc+n1:], atEOF)
			if !ok2 && n2 < 0 {
				return nDst, nSrc, transform.ErrShortSrc
			}
			if ok2 && lo >= 0xDC00 && lo <= 0xDFFF {
				r := utf16.DecodeRune(rune(hi), rune(lo))
				if len(dst)-nDst < utf8.UTFMax {
					return nDst, nSrc, transform.ErrShortDst
				}
				nDst += utf8.EncodeRune(dst[nDst:], r)
				nSrc += n1 + n2
				continue
			}
		}
		if nDst == len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		dst[nDst] = '&'
		nDst++
		nSrc++
	}
	return nDst, nSrc, nil
}

// parseRef parses a numeric character reference at the start of b. It
// returns the code and the reference's length; ok is false when b does not
// start with one, and n is -1 when more input is needed to tell.
func parseRef(b []byte, atEOF bool) (code int, n int, ok bool) {
	if len(b) == 0 || (len(b) == 1 && b[0] == '&') {
		if atEOF {
			return 0, 0, false
		}
		return 0, -1, false
	}
	if b[0] != '&' || b[1] != '#' {
		return 0, 0, false
	}
	i, base := 2, 10
	if i < len(b) && b[i] == 'x' { // XML allows only a lower-case x
		base = 16
		i++
	}
	start := i
	for ; i < len(b) && i < maxRef; i++ {
		d := digit(b[i], base)
		if d < 0 {
			break
		}
		code = code*base + d
	}
	// Out of input, the ';' (or the digit that ends it) is still to come:
	// at maxRef too, where the digits stop but the ';' may follow.
	if i == len(b) {
		if atEOF {
			return 0, 0, false
		}
		return 0, -1, false
	}
	if i == start || i >= len(b) || b[i] != ';' {
		return 0, 0, false
	}
	return code, i + 1, true
}

func digit(c byte, base int) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case base == 16 && c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case base == 16 && c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
