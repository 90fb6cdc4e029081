package smsxml

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"testing"
	"unicode/utf16"
)

var refPair = regexp.MustCompile(`&#(x[0-9a-fA-F]+|[0-9]+);&#(x[0-9a-fA-F]+|[0-9]+);`)

func refCode(s string) int {
	if s[0] == 'x' {
		n, err := strconv.ParseInt(s[1:], 16, 64)
		if err != nil {
			return -1
		}
		return int(n)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// FuzzJoinSurrogates compares the streaming joiner, fed one byte at a
// time, with a whole-buffer reference built on a regexp.
func FuzzJoinSurrogates(f *testing.F) {
	f.Add([]byte("a&#55357;&#56846;b"))
	f.Add([]byte("&#xD83E;&#xDDA5;&#55357;x&amp;&#10;"))
	f.Add([]byte("&#55357;&#55357;&#56846;"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := io.ReadAll(JoinSurrogates(&oneByte{data}))
		if err != nil {
			t.Fatal(err)
		}
		want := refJoin(data)
		if !bytes.Equal(got, want) {
			t.Fatalf("JoinSurrogates(%q) = %q, want %q", data, got, want)
		}
	})
}

func refJoin(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		loc := refPair.FindSubmatchIndex(b)
		if loc == nil {
			return append(out, b...)
		}
		hiS, loS := string(b[loc[2]:loc[3]]), string(b[loc[4]:loc[5]])
		hi, lo := refCode(hiS), refCode(loS)
		ok := len(hiS) <= 10 && len(loS) <= 10 && hi >= 0xD800 && hi < 0xDC00 && lo >= 0xDC00 && lo <= 0xDFFF
		if !ok {
			// Not a pair here: emit up to the next '&' and try again.
			next := loc[0] + 1
			out = append(out, b[:next]...)
			b = b[next:]
			continue
		}
		out = append(out, b[:loc[0]]...)
		out = append(out, string(utf16.DecodeRune(rune(hi), rune(lo)))...)
		b = b[loc[1]:]
	}
	return out
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
