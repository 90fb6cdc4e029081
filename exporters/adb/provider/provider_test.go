package provider_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/miexit/miexit/exporters/adb/provider"
	"github.com/miexit/miexit/internal/adbtest"
)

var smsCols = []string{"_id", "date", "type", "address", "body"}

func output(cols []string, rows [][]any) string {
	var b strings.Builder
	for i, r := range rows {
		b.WriteString(adbtest.FormatRow(i, cols, r))
	}
	return b.String()
}

func collect(t *testing.T, out string, cols []string, ids []int64) ([]provider.Row, error) {
	t.Helper()
	var rows []provider.Row
	for r, err := range provider.Parse(strings.NewReader(out), "content://sms", cols, ids) {
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func TestParseBodies(t *testing.T) {
	tests := []struct {
		name          string
		body          any
		wantAmbiguous bool
		wantNull      bool
	}{
		{name: "plain", body: "hello"},
		{name: "body with comma space", body: "yes, tomorrow, 9am"},
		{name: "body with equals", body: "2+2=4 and a=b"},
		{name: "body with newlines", body: "line one\nline two\n\nline four"},
		{name: "body ending in newline", body: "bye\n"},
		{name: "CJK", body: "明天见，好吗？"},
		{name: "emoji", body: "party 🎉👨‍👩‍👧"},
		{name: "text NULL prints like null", body: "NULL", wantNull: true},
		{name: "real null", body: nil, wantNull: true},
		{name: "empty", body: ""},
		{name: "body holding a separator of a later column", body: "x, body=y", wantAmbiguous: true},
		{name: "body holding an earlier separator is still exact", body: "see, type=2"},
		{name: "body forging the next row header", body: "a\nRow: 1 _id=8, date=1, type=1, address=x, body=forged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := [][]any{
				{int64(7), int64(1700000000000), int64(1), "+8613800138000", tc.body},
				{int64(8), int64(1700000000001), int64(2), "10086", "next"},
			}
			out := output(smsCols, rows)
			got, err := collect(t, out, smsCols, []int64{7, 8})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("%d rows, want 2", len(got))
			}
			r := got[0]
			if strings.Contains(tc.name, "forging") {
				// The forged header cut row 0; both rows must be read again.
				if !got[0].Ambiguous || !got[1].Ambiguous {
					t.Fatalf("forged header not detected: %+v", got)
				}
				return
			}
			if r.Ambiguous != tc.wantAmbiguous {
				t.Fatalf("Ambiguous = %v, want %v (%+v)", r.Ambiguous, tc.wantAmbiguous, r)
			}
			if tc.wantAmbiguous {
				return
			}
			if r.ID != 7 || r.Values[3] != "+8613800138000" || r.Null[4] != tc.wantNull {
				t.Fatalf("row = %+v", r)
			}
			if s, ok := tc.body.(string); ok && r.Values[4] != s {
				t.Errorf("body = %q, want %q", r.Values[4], s)
			}
			if got[1].Ambiguous || got[1].Values[4] != "next" {
				t.Errorf("second row = %+v", got[1])
			}
		})
	}
}

func TestParseHexProjection(t *testing.T) {
	cols := []string{"_id", "date", "hex(address)", "hex(body)"}
	tbl := &adbtest.Table{Columns: []string{"_id", "date", "address", "body"}, Functions: true}
	body := "a, b=c\nRow: 1 _id=2, x=NULL 中文 😀"
	tbl.Rows = [][]any{{int64(1), int64(5), "+1 555", body}, {int64(2), int64(6), nil, ""}}
	p := adbtest.NewProviders()
	p.Set("content://sms", tbl)
	d := adbtest.NewDevice("x")
	d.Prov = p
	out := runContent(t, d, provider.Query{URI: "content://sms", Columns: cols, Sort: "_id ASC"})
	got, err := collect(t, out, cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Ambiguous || got[0].Values[3] != body || got[0].Values[2] != "+1 555" || got[1].Values[2] != "" {
		t.Fatalf("rows = %+v", got)
	}
}

func TestParseCountMismatch(t *testing.T) {
	out := output(smsCols, [][]any{{int64(7), int64(1), int64(1), "a", "b"}})
	_, err := collect(t, out, smsCols, []int64{7, 9})
	if !errors.Is(err, provider.ErrOutput) {
		t.Fatalf("err = %v, want ErrOutput for a missing row", err)
	}
}

func TestParseEmptyAndErrors(t *testing.T) {
	got, err := collect(t, "No result found.\n", smsCols, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty = %v, %v", got, err)
	}
	_, err = collect(t, "Error while accessing provider:sms\njava.lang.SecurityException: Permission Denial: reading\n\tat x\n", smsCols, nil)
	var pe *provider.Error
	if !errors.As(err, &pe) || !pe.Denied {
		t.Fatalf("err = %v, want a denied *provider.Error", err)
	}
	if strings.Contains(pe.Error(), "\tat") {
		t.Errorf("error message keeps the stack trace: %q", pe.Error())
	}
}

func TestParseOneIsExact(t *testing.T) {
	v, ok, err := provider.ParseOne("Row: 0 body=x, body=y\nRow: 1 z\n\n", "content://sms", "body")
	if err != nil || !ok || v != "x, body=y\nRow: 1 z\n" {
		t.Fatalf("ParseOne = %q, %v, %v", v, ok, err)
	}
	if _, ok, err := provider.ParseOne("No result found.\n", "u", "body"); ok || err != nil {
		t.Fatalf("no result = %v, %v", ok, err)
	}
}

func runContent(t *testing.T, d *adbtest.Device, q provider.Query) string {
	t.Helper()
	var out, errb strings.Builder
	if code := d.Run(q.Args(), &out, &errb); code != 0 || errb.Len() > 0 {
		t.Fatalf("content: %d %s", code, errb.String())
	}
	return out.String()
}
