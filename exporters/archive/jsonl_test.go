package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/miexit/miexit/mapping"
)

func lines(n int, bad int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		if i == bad {
			b.WriteString("{not json\n")
			continue
		}
		fmt.Fprintf(&b, "{\"n\":%d}\n", i)
		if i%97 == 0 {
			b.WriteString("\n") // blank lines are skipped but counted
			i++
			if i == bad {
				b.WriteString("{not json\n")
			} else {
				fmt.Fprintf(&b, "{\"n\":%d}\n", i)
			}
		}
	}
	return b.Bytes()
}

func memberOf(data []byte) member {
	return member{Name: "messages.jsonl", Size: int64(len(data)), open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

type num struct {
	N int `json:"n"`
}

func TestJSONLKeepsTheFileOrderAcrossBatches(t *testing.T) {
	var got []int
	err := jsonl(context.Background(), memberOf(lines(5000, 0)), same[num], func(v num) error { got = append(got, v.N); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("nothing decoded")
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order at %d: %d after %d", i, got[i], got[i-1])
		}
	}
}

func TestJSONLBadLineIsNamedAfterTheGoodOnesBeforeIt(t *testing.T) {
	var got []int
	err := jsonl(context.Background(), memberOf(lines(2000, 1300)), same[num], func(v num) error { got = append(got, v.N); return nil })
	if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("err = %v", err)
	}
	if len(got) == 0 || got[len(got)-1] >= 1300 {
		t.Fatalf("added up to %v before the bad line", got[len(got)-1])
	}
}

func TestJSONLStopsWhenAddFails(t *testing.T) {
	stop := errors.New("disk full")
	n := 0
	err := jsonl(context.Background(), memberOf(lines(5000, 0)), same[num], func(v num) error {
		n++
		if n == 600 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 600 {
		t.Fatalf("err %v after %d adds", err, n)
	}
}

func BenchmarkJSONLMessages(b *testing.B) {
	var buf bytes.Buffer
	for i := range 100_000 {
		fmt.Fprintf(&buf, `{"type":"sms","box":1,"address":"+1555%07d","date":"2024-01-02T03:04:05Z","read":true,"body":"message number %d with some text in it"}`+"\n", i, i)
	}
	data := buf.Bytes()
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := jsonl(context.Background(), memberOf(data), same[mapping.Message], func(mapping.Message) error { n++; return nil }); err != nil || n != 100_000 {
			b.Fatal(err, n)
		}
	}
}
