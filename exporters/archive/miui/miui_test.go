package miui_test

import (
	"archive/tar"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/exporters/archive/miui"
	"github.com/miexit/miexit/internal/miuigen"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// collect keeps everything a backup yields.
type collect struct {
	contacts []mapping.Contact
	messages []mapping.Message
	calls    []mapping.Call
	notes    []mapping.Note
	files    map[string][]byte
}

func (c *collect) Contact(_ context.Context, x mapping.Contact) error {
	c.contacts = append(c.contacts, x)
	return nil
}
func (c *collect) Message(_ context.Context, x mapping.Message) error {
	c.messages = append(c.messages, x)
	return nil
}
func (c *collect) Call(_ context.Context, x mapping.Call) error {
	c.calls = append(c.calls, x)
	return nil
}
func (c *collect) Note(_ context.Context, x mapping.Note) error {
	c.notes = append(c.notes, x)
	return nil
}
func (c *collect) File(_ context.Context, rel string, r io.Reader, mod time.Time) (mapping.Entry, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return mapping.Entry{}, err
	}
	if c.files == nil {
		c.files = map[string][]byte{}
	}
	if _, dup := c.files[rel]; dup {
		return mapping.Entry{}, fmt.Errorf("%w: %s added twice", mapping.ErrBadInput, rel)
	}
	c.files[rel] = b
	sum := sha256.Sum256(b)
	return mapping.Entry{Kind: mapping.KindFile, Key: rel, Path: rel, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), Modified: mod}, nil
}

func read(t *testing.T, b []byte, opt miui.Options) (*collect, *miui.Result) {
	t.Helper()
	c := &collect{}
	res, err := miui.Read(context.Background(), bytes.NewReader(b), c, opt)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return c, res
}

func bak(t *testing.T, f *miuigen.Fixture, kind string, opt miuigen.Options) []byte {
	t.Helper()
	b, err := f.Bak(kind, opt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTripEveryKindAndLayout(t *testing.T) {
	f := miuigen.New(1, 24)
	for _, opt := range []miuigen.Options{
		{Version: 5},
		{Version: 3, Compressed: true},
		{Version: 1, Compressed: true, NoLabel: true},
		{Version: 2, CallsTopLevel: true},
		{Version: 4, Compressed: true, Password: "s3cret 密码", Seed: 7, Rounds: 500},
	} {
		name := fmt.Sprintf("v%d compressed=%v encrypted=%v", opt.Version, opt.Compressed, opt.Password != "")
		t.Run(name, func(t *testing.T) {
			ropt := miui.Options{Password: opt.Password}

			c, res := read(t, bak(t, f, "sms", opt), ropt)
			if res.Kind != miui.KindSMS || res.Header.Package != "com.android.mms" || res.Header.Feature != 1 {
				t.Fatalf("sms identified as %s %s/%d", res.Kind, res.Header.Package, res.Header.Feature)
			}
			if res.Header.Compressed != opt.Compressed || res.Header.Encrypted() != (opt.Password != "") {
				t.Errorf("header = %+v", res.Header)
			}
			if len(c.messages) != len(f.SMS) || res.Counts.Messages != len(f.SMS) {
				t.Fatalf("got %d messages (counted %d), want %d", len(c.messages), res.Counts.Messages, len(f.SMS))
			}
			for i, m := range c.messages {
				w := f.SMS[i]
				if m.Body != w.Body {
					t.Errorf("sms %d body = %q, want %q (byte-exact)", i, m.Body, w.Body)
				}
				if m.Address != w.Address || m.Box != w.Box || m.Date.UnixMilli() != w.Date || m.DateSent.UnixMilli() != w.DateSent ||
					m.Read != w.Read || m.Locked != w.Locked || m.ServiceCenter != w.ServiceCenter || m.Type != "sms" {
					t.Errorf("sms %d = %+v, want %+v", i, m, w)
				}
			}
			if len(res.Unknown) != 0 {
				t.Errorf("unknown fields reported for a clean backup: %v", res.Unknown)
			}

			c, res = read(t, bak(t, f, "mms", opt), ropt)
			if res.Kind != miui.KindMMS || len(c.messages) != len(f.MMS) {
				t.Fatalf("mms: kind %s, %d messages, want %d", res.Kind, len(c.messages), len(f.MMS))
			}
			img := f.MMS[0].Parts[1]
			p := c.messages[0].Parts[1]
			if p.File == "" || !bytes.Equal(c.files[p.File], img.Data) || p.ContentType != "image/jpeg" || p.Name != img.Name {
				t.Errorf("mms image part = %+v (file held: %v)", p, c.files[p.File] != nil)
			}
			if got := c.messages[0].Parts[0].Text; got != f.MMS[0].Parts[0].Text {
				t.Errorf("mms text = %q", got)
			}
			if c.messages[0].Address != "+86 138 0013 8000" || c.messages[1].Address != "+86 138 0013 8000~+49 30 1234567" {
				t.Errorf("mms addresses = %q, %q", c.messages[0].Address, c.messages[1].Address)
			}
			if !strings.HasPrefix(p.File, "messages/attachments/miui/") {
				t.Errorf("attachment path %q", p.File)
			}

			c, res = read(t, bak(t, f, "contacts", opt), ropt)
			if res.Kind != miui.KindContacts || len(c.contacts) != len(f.Contacts) {
				t.Fatalf("contacts: kind %s, %d, want %d", res.Kind, len(c.contacts), len(f.Contacts))
			}
			for i, ct := range c.contacts {
				w := f.Contacts[i]
				n := ct.Card.Name()
				if ct.Card.Value("FN") != w.Display || n == nil || n.GivenName != w.Given || n.FamilyName != w.Family {
					t.Errorf("contact %d = %v, want %+v", i, ct.Card, w)
				}
				tels := ct.Card["TEL"]
				if len(tels) != len(w.Phones) || tels[0].Value != w.Phones[0].Number || tels[0].Params.Get("TYPE") != "cell" {
					t.Errorf("contact %d phones = %v", i, tels)
				}
				if !strings.HasPrefix(ct.Key, "contact-") {
					t.Errorf("contact key %q", ct.Key)
				}
			}

			c, res = read(t, bak(t, f, "calls", opt), ropt)
			if res.Kind != miui.KindCalls || len(c.calls) != len(f.Calls) {
				t.Fatalf("calls: kind %s, %d, want %d", res.Kind, len(c.calls), len(f.Calls))
			}
			for i, cl := range c.calls {
				w := f.Calls[i]
				if cl.Number != w.Number || cl.Date.UnixMilli() != w.Date || cl.Duration != w.Duration || cl.Type != w.Type {
					t.Errorf("call %d = %+v, want %+v", i, cl, w)
				}
			}

			c, res = read(t, bak(t, f, "notes", opt), ropt)
			checkNotes(t, f, c, res)
		})
	}
}

func checkNotes(t *testing.T, f *miuigen.Fixture, c *collect, res *miui.Result) {
	t.Helper()
	if res.Kind != miui.KindNotes || len(c.notes) != len(f.Notes) {
		t.Fatalf("notes: kind %s, %d, want %d", res.Kind, len(c.notes), len(f.Notes))
	}
	for i, n := range c.notes {
		w := f.Notes[i]
		if n.Deleted != w.Deleted() || n.Created.UnixMilli() != w.Created || n.Modified.UnixMilli() != w.Modified {
			t.Errorf("note %d = %+v, want %+v", i, n, w)
		}
	}
	first := c.notes[0]
	if first.Title != "会议记录" || first.Folder != "工作" {
		t.Errorf("note title/folder = %q/%q", first.Title, first.Folder)
	}
	for _, want := range []string{"**议程**, part 1", "- 第一项 😀", "- [x] done & dusted", "![image](<../_files/miui/"} {
		if !strings.Contains(first.Body, want) {
			t.Errorf("note body lacks %q:\n%s", want, first.Body)
		}
	}
	id := f.Notes[0].Images[0].FileID
	var held []byte
	for rel, b := range c.files {
		if strings.HasSuffix(rel, "/"+id+".jpg") {
			held = b
		}
	}
	if !bytes.Equal(held, f.Notes[0].Images[0].Data) {
		t.Errorf("note image not handed over byte-exact")
	}
	if c.notes[1].Body != "plain note, no markup\nsecond line\n" || c.notes[1].Title != "plain note, no markup" {
		t.Errorf("plain note = %+v", c.notes[1])
	}
	if res.MissingAttachments != 0 {
		t.Errorf("missing attachments: %d", res.MissingAttachments)
	}
}

func TestEncryptedBackupNeedsTheRightPassword(t *testing.T) {
	f := miuigen.New(2, 3)
	b := bak(t, f, "sms", miuigen.Options{Compressed: true, Password: "right", Seed: 3})
	for _, tc := range []struct {
		name, password, want string
	}{
		{"missing password", "", "--password"},
		{"wrong password", "wrong", "does not open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := miui.Read(context.Background(), bytes.NewReader(b), &collect{}, miui.Options{Name: "短信(com.android.mms).bak", Password: tc.password})
			if !errors.Is(err, miui.ErrPassword) || !errors.Is(err, mapping.ErrBadInput) {
				t.Fatalf("err = %v, want ErrPassword", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--password") || !strings.Contains(err.Error(), "短信(com.android.mms).bak") {
				t.Errorf("error %q should say %q, name the file and how to pass --password", err, tc.want)
			}
		})
	}
	t.Run("right password", func(t *testing.T) {
		c, _ := read(t, b, miui.Options{Password: "right"})
		if len(c.messages) != 3 || c.messages[1].Body != f.SMS[1].Body {
			t.Fatalf("got %d messages", len(c.messages))
		}
	})
}

func TestUnknownFieldsAreCounted(t *testing.T) {
	f := miuigen.New(3, 5)
	opt := miuigen.Options{Unknown: true}
	for _, tc := range []struct{ kind, key string }{
		{"sms", "sms.99"}, {"calls", "call.98"}, {"contacts", "contact.30"},
	} {
		c, res := read(t, bak(t, f, tc.kind, opt), miui.Options{})
		if res.Unknown[tc.key] != 5 || len(res.Unknown) != 1 {
			t.Errorf("%s: unknown = %v, want %s: 5", tc.kind, res.Unknown, tc.key)
		}
		if len(c.messages)+len(c.calls)+len(c.contacts) != 5 {
			t.Errorf("%s: unknown fields lost records", tc.kind)
		}
	}
}

func TestSecondSpaceIsKeptApart(t *testing.T) {
	f := miuigen.New(4, 4)
	main, _ := read(t, bak(t, f, "sms", miuigen.Options{}), miui.Options{})
	second, res := read(t, bak(t, f, "notes", miuigen.Options{User: 999}), miui.Options{})
	if res.User != 999 {
		t.Fatalf("user = %d, want 999 (from attachment paths)", res.User)
	}
	if !strings.HasPrefix(second.notes[0].Folder, "User 999") {
		t.Errorf("second-space note folder %q", second.notes[0].Folder)
	}
	dual, res := read(t, bak(t, f, "sms", miuigen.Options{}), miui.Options{User: 999})
	if res.User != 999 {
		t.Fatalf("user = %d", res.User)
	}
	for i := range dual.messages {
		if dual.messages[i].Key == main.messages[i].Key || !strings.HasSuffix(dual.messages[i].Key, "-u999") {
			t.Errorf("message %d key %q is not kept apart from %q", i, dual.messages[i].Key, main.messages[i].Key)
		}
	}
}

func TestBareAndroidBackupIsIdentifiedFromTheTar(t *testing.T) {
	f := miuigen.New(5, 3)
	b := bak(t, f, "sms", miuigen.Options{})
	i := bytes.Index(b, []byte("ANDROID BACKUP\n"))
	_, res := read(t, b[i:], miui.Options{})
	if res.Header.MIUI || res.Header.Package != "com.android.mms" || res.Kind != miui.KindMessages || res.Counts.Messages != 3 {
		t.Errorf("bare backup: %+v kind %s counts %+v", res.Header, res.Kind, res.Counts)
	}
}

func TestOtherAppsAreNotUnderstood(t *testing.T) {
	b := []byte("MIUI BACKUP\n2\ncom.tencent.mm 微信\n-1\n0\nANDROID BACKUP\n5\n0\nnone\n")
	_, res := read(t, b, miui.Options{})
	if res.Kind != miui.KindUnknown || res.Counts.NotUnderstood != 1 {
		t.Errorf("kind %s counts %+v", res.Kind, res.Counts)
	}
}

func TestCounterMatchesSnapshotExport(t *testing.T) {
	f := miuigen.New(6, 12)
	// An MMS that differs from another only by its picture's bytes is a
	// different message, also in a dry run.
	twin := f.MMS[0]
	twin.Parts = append([]miuigen.Part{}, twin.Parts...)
	twin.Parts[1].Data = append([]byte{}, twin.Parts[1].Data...)
	twin.Parts[1].Data[20] ^= 0xff
	twin.Parts[1].PhonePath += ".2"
	f.MMS = append(f.MMS, twin)
	dir := t.TempDir()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "archive:test"})
	if err != nil {
		t.Fatal(err)
	}
	dry, err := snapshot.Create(t.TempDir(), snapshot.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	counter := miui.NewCounter()
	ctx := context.Background()
	// The same backup twice (as a folder and inside a zip would give):
	// items are stored and counted once.
	for round, prefix := range []string{"20240101_000000", "copy/20240101_000000"} {
		for _, k := range miuigen.Kinds {
			b := bak(t, f, k, miuigen.Options{Compressed: round == 1})
			if _, err := miui.Read(ctx, bytes.NewReader(b), miui.SnapshotSink(w), miui.Options{Prefix: prefix}); err != nil {
				t.Fatalf("export %s: %v", k, err)
			}
			if _, err := miui.Read(ctx, bytes.NewReader(b), counter, miui.Options{Prefix: prefix}); err != nil {
				t.Fatalf("count %s: %v", k, err)
			}
			if _, err := miui.Read(ctx, bytes.NewReader(b), miui.SnapshotSink(dry), miui.Options{Prefix: prefix}); err != nil {
				t.Fatalf("dry run %s: %v", k, err)
			}
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := mapping.Counts{Contacts: 12, Messages: 12 + 3, Calls: 12, Notes: 4}
	if got := w.Counts(); got != want {
		t.Errorf("export counts %+v, want %+v", got, want)
	}
	if got := counter.Counts(); got != want {
		t.Errorf("inventory counts %+v, want %+v", got, want)
	}
	if got := dry.Counts(); got != want {
		t.Errorf("dry-run counts %+v, want %+v", got, want)
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]bool{}
	for m, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		bodies[m.Body] = true
		for _, p := range m.Parts {
			if p.File == "" {
				continue
			}
			fh, err := r.Open(p.File)
			if err != nil {
				t.Errorf("MMS part %s not in the snapshot: %v", p.File, err)
				continue
			}
			b, _ := io.ReadAll(fh)
			fh.Close()
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != p.SHA256 || int64(len(b)) != p.Size {
				t.Errorf("MMS part %s: hash or size differs from the message's", p.File)
			}
		}
	}
	for _, s := range f.SMS {
		if !bodies[s.Body] {
			t.Errorf("messages.jsonl lacks body %q byte-exact", s.Body)
		}
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	opt := miuigen.Options{Compressed: true, Password: "pw", Seed: 9, Rounds: 200}
	if err := miuigen.New(7, 5).WriteZip(&a, opt); err != nil {
		t.Fatal(err)
	}
	if err := miuigen.New(7, 5).WriteZip(&b, opt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed gave different zips")
	}
	var c bytes.Buffer
	miuigen.New(8, 5).WriteZip(&c, opt)
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds gave the same zip")
	}
}

func TestDescript(t *testing.T) {
	f := miuigen.New(1, 1)
	d, err := miui.ParseDescript(bytes.NewReader(f.Descript(miuigen.Options{User: 999})))
	if err != nil {
		t.Fatal(err)
	}
	if d.Device != "Redmi Note 8" || !d.Date.Equal(f.Base) || len(d.Packages) != len(miuigen.Kinds) {
		t.Fatalf("descript = %+v", d)
	}
	p := d.Packages[0]
	if p.PackageName != "com.android.mms" || p.Feature != 1 || p.BakFile != "短信(com.android.mms).bak" || p.User != 999 {
		t.Errorf("row = %+v", p)
	}
	attrs := `<MIUI-backup device="Mi 9"><packages><package packageName="com.miui.notes" feature="-1" bakFile="Notes(com.miui.notes).bak"/></packages></MIUI-backup>`
	if d, err = miui.ParseDescript(strings.NewReader(attrs)); err != nil || d.Device != "Mi 9" || d.Packages[0].PackageName != "com.miui.notes" {
		t.Errorf("attribute form: %+v %v", d, err)
	}
	if _, err := miui.ParseDescript(strings.NewReader("<html/>")); !errors.Is(err, mapping.ErrBadInput) {
		t.Errorf("wrong root: %v", err)
	}
}

// hostileBak wraps a hand-made tar stream in a MIUI header.
func hostileBak(t *testing.T, pkg string, compressed bool, members func(tw *tar.Writer)) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	members(tw)
	tw.Close()
	c := 0
	stream := tb.Bytes()
	if compressed {
		c = 1
		var zb bytes.Buffer
		zw := zlib.NewWriter(&zb)
		zw.Write(stream)
		zw.Close()
		stream = zb.Bytes()
	}
	return append([]byte(fmt.Sprintf("MIUI BACKUP\n2\n%s\n1\n0\nANDROID BACKUP\n5\n%d\nnone\n", pkg, c)), stream...)
}

func member(tw *tar.Writer, name string, typ byte, data []byte) {
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Size: int64(len(data)), Mode: 0o600, Linkname: "/etc/passwd"})
	tw.Write(data)
}

func TestHostileInput(t *testing.T) {
	f := miuigen.New(9, 30)
	good := bak(t, f, "sms", miuigen.Options{})
	hugeLen := []byte{0x22, 0xff, 0xff, 0xff, 0xff, 0x0f} // field 4, length 4 GiB
	for _, tc := range []struct {
		name string
		data []byte
		lim  miui.Limits
		want string
	}{
		{"tar ends early inside the payload", good[:len(good)-1500], miui.Limits{}, "ends early"},
		{"tar ends early, compressed", func() []byte {
			b := bak(t, f, "sms", miuigen.Options{Compressed: true})
			return b[:len(b)-40]
		}(), miui.Limits{}, "ends early"},
		{"tar ends early inside an attachment", func() []byte {
			b := bak(t, f, "mms", miuigen.Options{})
			return b[:len(b)-1024-512+100]
		}(), miui.Limits{}, `ends early in member "apps/com.android.mms/miui_att/data/user/0/`},
		{"header only", good[:bytes.Index(good, []byte("none\n"))+5], miui.Limits{}, "no apps/com.android.mms/miui_bak/_tmp_bak"},
		{"path traversal", hostileBak(t, "com.android.mms", false, func(tw *tar.Writer) {
			member(tw, "apps/com.android.mms/miui_att/../../../../etc/x", tar.TypeReg, []byte("x"))
		}), miui.Limits{}, `"apps/com.android.mms/miui_att/../../../../etc/x"`},
		{"absolute member", hostileBak(t, "com.android.mms", false, func(tw *tar.Writer) {
			member(tw, "/etc/passwd", tar.TypeReg, []byte("x"))
		}), miui.Limits{}, `"/etc/passwd"`},
		{"symlink member", hostileBak(t, "com.android.mms", false, func(tw *tar.Writer) {
			member(tw, "apps/com.android.mms/miui_att/data/link", tar.TypeSymlink, nil)
		}), miui.Limits{}, "links and devices are refused"},
		{"huge protobuf length prefix", hostileBak(t, "com.android.mms", false, func(tw *tar.Writer) {
			member(tw, "apps/com.android.mms/miui_bak/_tmp_bak", tar.TypeReg, hugeLen)
		}), miui.Limits{}, "field 4 claims 4294967295 bytes"},
		{"record over the limit", good, miui.Limits{MaxRecord: 10, MaxBytes: 1 << 30, MaxPayload: 1 << 30}, "over the 10 limit"},
		{"expands past the size limit", hostileBak(t, "com.android.mms", true, func(tw *tar.Writer) {
			member(tw, "apps/com.android.mms/miui_bak/_tmp_bak", tar.TypeReg, make([]byte, 2<<20))
		}), miui.Limits{MaxBytes: 1 << 20}, "more than 1048576 bytes"},
		{"decompression bomb ratio", hostileBak(t, "com.android.mms", true, func(tw *tar.Writer) {
			member(tw, "apps/com.android.mms/miui_bak/_tmp_bak", tar.TypeReg, make([]byte, 2<<20))
		}), miui.Limits{MaxBytes: 1 << 40, MaxRatio: 100}, "decompression bomb"},
		{"payload over the limit", good, miui.Limits{MaxPayload: 100, MaxBytes: 1 << 30, MaxRecord: 1 << 20}, "larger than 100 bytes"},
		{"not zlib", append([]byte("MIUI BACKUP\n2\ncom.android.mms\n1\n0\nANDROID BACKUP\n5\n1\nnone\n"), "plain text"...), miui.Limits{}, "not zlib"},
		{"wrong magic", []byte("PK\x03\x04 zip"), miui.Limits{}, "starts with"},
		{"bad version", []byte("MIUI BACKUP\n2\ncom.android.mms\n1\n0\nANDROID BACKUP\n9\n"), miui.Limits{}, "from 1 to 5"},
		{"unknown encryption", []byte("MIUI BACKUP\n2\ncom.android.mms\n1\n0\nANDROID BACKUP\n5\n0\nROT13\n"), miui.Limits{}, "unknown encryption"},
		{"endless header line", append([]byte("MIUI BACKUP\n2\n"), bytes.Repeat([]byte("a"), 100000)...), miui.Limits{}, "longer than"},
		{"bad package", []byte("MIUI BACKUP\n2\n../../evil\n1\n0\n"), miui.Limits{}, "not an Android package name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := miui.Read(context.Background(), bytes.NewReader(tc.data), &collect{}, miui.Options{Name: "x.bak", Limits: tc.lim})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, mapping.ErrBadInput) {
				t.Errorf("error %v does not wrap ErrBadInput", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "x.bak: ") {
				t.Errorf("error %q should name the file and say %q", err, tc.want)
			}
		})
	}
}

func TestLooksLikeBackup(t *testing.T) {
	for in, want := range map[string]bool{"MIUI BACKUP\n2\n": true, "ANDROID BACKUP\n5": true, "MIUI BACKUPX": false, "PK\x03\x04": false} {
		if miui.LooksLikeBackup([]byte(in)) != want {
			t.Errorf("LooksLikeBackup(%q) != %v", in, want)
		}
	}
}

func TestUntitledNoteTakesItsFirstLine(t *testing.T) {
	f := miuigen.New(1, 1)
	f.Notes = []miuigen.Note{{ID: 1, Created: 1, Modified: 2, Content: `<new-format/><input type="checkbox" checked="false" /><text indent="1">xbox <b>games</b></text>`}}
	c, _ := read(t, bak(t, f, "notes", miuigen.Options{}), miui.Options{})
	if c.notes[0].Title != "xbox games" || c.notes[0].Body != "- [ ] xbox **games**\n" {
		t.Errorf("note = %q / %q", c.notes[0].Title, c.notes[0].Body)
	}
}

func TestReadStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := miui.Read(ctx, bytes.NewReader(bak(t, miuigen.New(1, 3), "sms", miuigen.Options{})), &collect{}, miui.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func BenchmarkReadSMS(b *testing.B) {
	f := miuigen.New(1, 20000)
	data, err := f.Bak("sms", miuigen.Options{Compressed: true})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c := miui.NewCounter()
		if _, err := miui.Read(context.Background(), bytes.NewReader(data), c, miui.Options{}); err != nil {
			b.Fatal(err)
		}
		if c.Counts().Messages != 20000 {
			b.Fatal(c.Counts())
		}
	}
}
