package miui

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/miexit/miexit/internal/miuigen"
	"github.com/miexit/miexit/mapping"
)

// go test -run TestWriteSeeds -write-seeds rewrites testdata/fuzz from the
// generator; go test runs those seeds through the fuzz targets every time.
var writeSeeds = flag.Bool("write-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

type nopSink struct{}

func (nopSink) Contact(context.Context, mapping.Contact) error { return nil }
func (nopSink) Message(context.Context, mapping.Message) error { return nil }
func (nopSink) Call(context.Context, mapping.Call) error       { return nil }
func (nopSink) Note(context.Context, mapping.Note) error       { return nil }
func (nopSink) File(_ context.Context, rel string, r io.Reader, _ time.Time) (mapping.Entry, error) {
	n, err := io.Copy(io.Discard, r)
	return mapping.Entry{Path: rel, Size: n}, err
}

var fuzzLimits = Limits{MaxBytes: 8 << 20, MaxRatio: 1100, MaxPayload: 4 << 20, MaxRecord: 1 << 20}

func FuzzHeader(f *testing.F) {
	f.Add([]byte("MIUI BACKUP\n2\ncom.android.mms 短信\n1\n0\nANDROID BACKUP\n5\n0\nnone\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			if !errors.Is(err, mapping.ErrBadInput) {
				t.Fatalf("error does not wrap ErrBadInput: %v", err)
			}
			return
		}
		if h.Version < 1 || h.Version > 5 || (h.Encryption != "none" && h.Encryption != "AES-256") {
			t.Fatalf("accepted a bad header: %+v", h)
		}
	})
}

func FuzzTarWalk(f *testing.F) {
	f.Add([]byte("MIUI BACKUP\n2\ncom.android.mms\n1\n0\nANDROID BACKUP\n5\n0\nnone\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Read(context.Background(), bytes.NewReader(b), nopSink{}, Options{Limits: fuzzLimits, Password: "pw", TempDir: t.TempDir()})
		if err != nil && !errors.Is(err, mapping.ErrBadInput) {
			t.Fatalf("error does not wrap ErrBadInput: %v", err)
		}
	})
}

func FuzzProtobuf(f *testing.F) {
	f.Add([]byte{0x22, 0x04, 0x0a, 0x02, 0x32, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range []Kind{KindMessages, KindContacts, KindNotes} {
			rd := &reader{ctx: context.Background(), opt: Options{Limits: fuzzLimits}, sink: nopSink{},
				res: &Result{Unknown: map[string]int{}, Kind: k}, files: map[string]mapping.Entry{}, base: map[string]mapping.Entry{}}
			err := rd.decode(&spool{ReaderAt: bytes.NewReader(b), size: int64(len(b))})
			if err != nil && !errors.Is(err, mapping.ErrBadInput) {
				t.Fatalf("%s: error does not wrap ErrBadInput: %v", k, err)
			}
		}
	})
}

func TestWriteSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite testdata/fuzz")
	}
	fx := miuigen.New(11, 2)
	seeds := map[string]map[string][]byte{"FuzzHeader": {}, "FuzzTarWalk": {}, "FuzzProtobuf": {}}
	for _, k := range miuigen.Kinds {
		for _, opt := range []miuigen.Options{{}, {Compressed: true}, {Compressed: true, Password: "pw", Rounds: 2, Seed: 1}} {
			b, err := fx.Bak(k, opt)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%s-c%v-e%v", k, opt.Compressed, opt.Password != "")
			seeds["FuzzTarWalk"][name] = b
			end := bytes.Index(b, []byte("none\n"))
			if end < 0 {
				end = len(b) - len(b)/3
			}
			seeds["FuzzHeader"][name] = b[:min(len(b), end+5+64)]
			if !opt.Compressed {
				// The payload follows the _tmp_bak tar header.
				i := bytes.Index(b, []byte("miui_bak/_tmp_bak"))
				if i > 0 {
					start := (i/512 + 1) * 512
					seeds["FuzzProtobuf"][k] = b[start:min(len(b), start+2048)]
				}
			}
		}
	}
	seeds["FuzzTarWalk"]["truncated"] = seeds["FuzzTarWalk"]["sms-cfalse-efalse"][:700]
	seeds["FuzzProtobuf"]["huge-length"] = []byte{0x22, 0xff, 0xff, 0xff, 0xff, 0x0f}
	seeds["FuzzProtobuf"]["string-ids"] = []byte{0x0a, 0x08, 0x12, 0x06, 0x12, 0x02, '4', '2', 0x28, 0x01}
	for target, m := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range m {
			if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestLargePayloadSpillsToDisk(t *testing.T) {
	s, err := newSpool(bytes.NewReader(make([]byte, spoolMem+100)), spoolMem+200, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.f == nil || s.size != spoolMem+100 {
		t.Fatalf("spool kept %d bytes in memory", s.size)
	}
	b := make([]byte, 10)
	if _, err := s.ReadAt(b, spoolMem+90); err != nil {
		t.Fatal(err)
	}
	if _, err := newSpool(bytes.NewReader(make([]byte, spoolMem+300)), spoolMem+200, t.TempDir()); !errors.Is(err, mapping.ErrBadInput) {
		t.Errorf("over-long payload: %v", err)
	}
}

func TestDeeplyNestedNotesAreNotFollowed(t *testing.T) {
	// 6 { 6 { 6 { ... } } }: only the first wrapper is a notes database.
	var b []byte
	for i := 0; i < 100000; i++ {
		b = append(protowire.AppendVarint(protowire.AppendTag(nil, 6, protowire.BytesType), uint64(len(b))), b...)
		if len(b) > 1<<16 {
			break
		}
	}
	rd := &reader{ctx: context.Background(), opt: Options{Limits: fuzzLimits}, sink: nopSink{},
		res: &Result{Unknown: map[string]int{}, Kind: KindNotes}, files: map[string]mapping.Entry{}, base: map[string]mapping.Entry{}}
	if err := rd.decode(&spool{ReaderAt: bytes.NewReader(b), size: int64(len(b))}); err != nil {
		t.Fatal(err)
	}
	if rd.res.Unknown["notes.root.6"] != 1 {
		t.Errorf("unknown = %v, want the nested wrapper counted once", rd.res.Unknown)
	}
}
