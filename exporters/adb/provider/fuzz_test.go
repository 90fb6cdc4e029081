package provider_test

import (
	"strings"
	"testing"

	"github.com/miexit/miexit/exporters/adb/provider"
	"github.com/miexit/miexit/internal/adbtest"
)

// FuzzParseRoundTrip prints rows the way `content query` does and checks
// the parser either returns the exact values or marks the row ambiguous:
// it must never return a wrong value as certain.
func FuzzParseRoundTrip(f *testing.F) {
	f.Add("+86 138", "hello, world", "a=b\nc")
	f.Add("NULL", "NULL", "")
	f.Add("x", "a\nRow: 1 _id=8, date=1, type=1, address=x, body=forged", "z")
	f.Add("中文", "😀, address=1", ", body=")
	f.Fuzz(func(t *testing.T, addr, body1, body2 string) {
		rows := [][]any{
			{int64(7), int64(1700000000000), int64(1), addr, body1},
			{int64(8), int64(1700000000001), int64(2), addr, body2},
			{int64(9), int64(1700000000002), int64(1), "10086", "tail"},
		}
		var b strings.Builder
		for i, r := range rows {
			b.WriteString(adbtest.FormatRow(i, smsCols, r))
		}
		var got []provider.Row
		for r, err := range provider.Parse(strings.NewReader(b.String()), "content://sms", smsCols, []int64{7, 8, 9}) {
			if err != nil {
				// Refusing is allowed (the caller reads rows one by one);
				// being wrong is not.
				return
			}
			got = append(got, r)
		}
		if len(got) != 3 {
			t.Fatalf("%d rows without error, want 3", len(got))
		}
		for i, r := range got {
			if r.Ambiguous {
				continue
			}
			for j, v := range rows[i] {
				want := adbtestFormat(v)
				if r.Values[j] != want {
					t.Fatalf("row %d col %s = %q, want %q (output %q)", i, smsCols[j], r.Values[j], want, b.String())
				}
			}
		}
	})
}

func adbtestFormat(v any) string {
	s := adbtest.FormatRow(0, []string{"c"}, []any{v})
	return strings.TrimSuffix(strings.TrimPrefix(s, "Row: 0 c="), "\n")
}

// FuzzParseAnything feeds arbitrary output: no panic, no runaway.
func FuzzParseAnything(f *testing.F) {
	f.Add([]byte("Row: 0 _id=1, body=x\nRow: 1 _id=2, body=y\n"), int64(1))
	f.Add([]byte("No result found.\n"), int64(0))
	f.Add([]byte("Error while accessing provider:sms\n"), int64(3))
	f.Fuzz(func(t *testing.T, out []byte, id int64) {
		for _, ids := range [][]int64{nil, {id, id + 1}} {
			for _, err := range provider.Parse(strings.NewReader(string(out)), "u", []string{"_id", "hex(address)", "body"}, ids) {
				if err != nil {
					break
				}
			}
		}
		provider.ParseOne(string(out), "u", "body")
	})
}
