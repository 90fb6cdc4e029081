package smsxml

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

var refRE = regexp.MustCompile(`^&#(x[0-9a-fA-F]{1,9}|[0-9]{1,10});`)

// refAt parses a character reference at the start of b.
func refAt(b []byte) (code, n int, ok bool) {
	m := refRE.FindSubmatch(b)
	if m == nil {
		return 0, 0, false
	}
	s := string(m[1])
	var v int64
	var err error
	if s[0] == 'x' {
		v, err = strconv.ParseInt(s[1:], 16, 64)
	} else {
		v, err = strconv.ParseInt(s, 10, 64)
	}
	if err != nil {
		return 0, 0, false
	}
	return int(v), len(m[0]), true
}

// refJoin is the whole-buffer reference for JoinSurrogates.
func refJoin(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		c := b[i]
		if forbiddenControl(int(c)) {
			out = utf8.AppendRune(out, rune(controlBase+int(c)))
			i++
			continue
		}
		if c == '&' {
			if code, n, ok := refAt(b[i:]); ok {
				if forbiddenControl(code) {
					out = utf8.AppendRune(out, rune(controlBase+code))
					i += n
					continue
				}
				if code >= 0xD800 && code < 0xDC00 {
					if lo, n2, ok := refAt(b[i+n:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						out = utf8.AppendRune(out, utf16.DecodeRune(rune(code), rune(lo)))
						i += n + n2
						continue
					}
				}
			}
		}
		out = append(out, c)
		i++
	}
	return out
}

// FuzzJoinSurrogates compares the streaming joiner, fed one byte at a
// time, with a whole-buffer reference.
func FuzzJoinSurrogates(f *testing.F) {
	f.Add([]byte("a&#55357;&#56846;b"))
	f.Add([]byte("&#xD83E;&#xDDA5;&#55357;x&amp;&#10;"))
	f.Add([]byte("&#55357;&#55357;&#56846;"))
	f.Add([]byte("ctl \x01 &#1; &#x1f; &#9; \t"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := io.ReadAll(JoinSurrogates(&oneByte{data}))
		if err != nil {
			t.Fatal(err)
		}
		if want := refJoin(data); !bytes.Equal(got, want) {
			t.Fatalf("JoinSurrogates(%q) = %q, want %q", data, got, want)
		}
	})
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}

// FuzzMessages: any document reads without panicking, and every error
// names the file.
func FuzzMessages(f *testing.F) {
	f.Add([]byte(appDoc))
	f.Add([]byte(`<smses><sms address="1" date="1" body="&#55357;&#56846;"/></smses>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, err := range (&Reader{Name: "f.xml"}).Messages(bytes.NewReader(data)) {
			if err != nil && !bytes.Contains([]byte(err.Error()), []byte("f.xml")) {
				t.Fatalf("error does not name the file: %v", err)
			}
		}
		for _, err := range (&Reader{Name: "f.xml"}).Calls(bytes.NewReader(data)) {
			if err != nil && !bytes.Contains([]byte(err.Error()), []byte("f.xml")) {
				t.Fatalf("error does not name the file: %v", err)
			}
		}
	})
}
