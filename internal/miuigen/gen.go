package miuigen

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/zlib"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Options shape the generated files.
type Options struct {
	Compressed bool
	// Password encrypts the Android backup stream (AES-256) when set.
	Password string
	// Version is the Android backup version (1-5); 5 when 0.
	Version int
	// User puts attachments under that Android user's paths (999: MIUI's
	// second space).
	User int
	// Unknown adds fields the reader does not know: 99 in every SMS, 98 in
	// every call, 30 in every contact.
	Unknown bool
	// NoLabel leaves the localized label off the header's package line.
	NoLabel bool
	// CallsTopLevel writes the call log as repeated 1 at the top level,
	// as some builds do, instead of inside field 2.
	CallsTopLevel bool
	// Seed fixes salts and IVs.
	Seed uint64
	// Rounds is the PBKDF2 iteration count of an encrypted backup: 10000
	// (what Android writes) when 0; tests may lower it for speed.
	Rounds int
}

// Kinds are the backup files a fixture makes, in folder order.
var Kinds = []string{"sms", "mms", "contacts", "calls", "notes"}

type kindInfo struct {
	pkg, label string
	feature    int
}

var kinds = map[string]kindInfo{
	"sms":      {"com.android.mms", "短信", 1},
	"mms":      {"com.android.mms", "彩信", 2},
	"contacts": {"com.android.contacts", "联系人", 1},
	"calls":    {"com.android.contacts", "通话记录", 2},
	"notes":    {"com.miui.notes", "笔记", -1},
}

// FileName is the .bak name MIUI gives a kind: <label>(<package>).bak.
func FileName(kind string) string {
	k := kinds[kind]
	return fmt.Sprintf("%s(%s).bak", k.label, k.pkg)
}

// Bak returns one .bak file.
func (f *Fixture) Bak(kind string, opt Options) ([]byte, error) {
	k, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("miuigen: unknown kind %q", kind)
	}
	if opt.Version == 0 {
		opt.Version = 5
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	mod := f.Base
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: mod, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	dir := "apps/" + k.pkg + "/"
	meta := fmt.Sprintf("1\n%s\n%d\n%s\n%d\n%d\n%d\n%s\n%s\n", k.pkg, 100, "12.0.1", f.Base.UnixMilli(), 2, k.feature, "Redmi Note 8", "V12.5.1.0")
	files, payload := f.payload(kind, opt)
	for _, step := range []struct {
		name string
		data []byte
	}{{dir + "_manifest", []byte("1\n" + k.pkg + "\n100\n30\n\n0\n")}, {dir + "miui_meta/cache/_tmp_meta", []byte(meta)}, {dir + "miui_bak/_tmp_bak", payload}} {
		if err := add(step.name, step.data); err != nil {
			return nil, err
		}
	}
	for _, a := range files {
		if err := add(dir+"miui_att/"+a.path, a.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	stream := tb.Bytes()
	if opt.Compressed {
		var zb bytes.Buffer
		zw := zlib.NewWriter(&zb)
		zw.Write(stream)
		zw.Close()
		stream = zb.Bytes()
	}
	var out bytes.Buffer
	label := " " + k.label
	if opt.NoLabel {
		label = ""
	}
	enc := 0
	if opt.Password != "" {
		enc = 1
	}
	fmt.Fprintf(&out, "MIUI BACKUP\n2\n%s%s\n%d\n%d\n", k.pkg, label, k.feature, enc)
	if enc == 1 {
		sum := sha1.Sum([]byte(opt.Password))
		fmt.Fprintf(&out, "%x\n", sum)
	}
	comp := 0
	if opt.Compressed {
		comp = 1
	}
	fmt.Fprintf(&out, "ANDROID BACKUP\n%d\n%d\n", opt.Version, comp)
	if opt.Password == "" {
		out.WriteString("none\n")
		out.Write(stream)
		return out.Bytes(), nil
	}
	ct, err := encrypt(&out, stream, opt)
	if err != nil {
		return nil, err
	}
	out.Write(ct)
	return out.Bytes(), nil
}

// encrypt writes the AES-256 header lines as AOSP's adb backup does and
// returns the encrypted stream.
func encrypt(hdr *bytes.Buffer, plain []byte, opt Options) ([]byte, error) {
	rng := rand.New(rand.NewPCG(opt.Seed, 42))
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	rounds := opt.Rounds
	if rounds == 0 {
		rounds = 10000
	}
	userSalt, ckSalt, userIV, mkIV, mk := rnd(64), rnd(64), rnd(16), rnd(16), rnd(32)
	userKey, err := pbkdf2.Key(sha1.New, opt.Password, userSalt, rounds, 32)
	if err != nil {
		return nil, err
	}
	// The checksum is PBKDF2 over the master key bytes cast to Java chars
	// (sign-extended) and encoded as UTF-8.
	var mangled []byte
	for _, b := range mk {
		r := rune(b)
		if b >= 0x80 {
			r = 0xFF00 | rune(b)
		}
		mangled = utf8.AppendRune(mangled, r)
	}
	ck, err := pbkdf2.Key(sha1.New, string(mangled), ckSalt, rounds, 32)
	if err != nil {
		return nil, err
	}
	var blob []byte
	for _, p := range [][]byte{mkIV, mk, ck} {
		blob = append(blob, byte(len(p)))
		blob = append(blob, p...)
	}
	encBlob, err := cbcEncrypt(userKey, userIV, blob)
	if err != nil {
		return nil, err
	}
	up := func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	fmt.Fprintf(hdr, "AES-256\n%s\n%s\n%d\n%s\n%s\n", up(userSalt), up(ckSalt), rounds, up(userIV), up(encBlob))
	return cbcEncrypt(mk, mkIV, plain)
}

func cbcEncrypt(key, iv, plain []byte) ([]byte, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(append([]byte{}, plain...), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(buf, buf)
	return buf, nil
}

type attachment struct {
	path string
	data []byte
}

// userPath puts a phone path under the backup's Android user.
func userPath(p string, user int) string {
	return strings.Replace(p, "/user/0/", fmt.Sprintf("/user/%d/", user), 1)
}

func (f *Fixture) payload(kind string, opt Options) ([]attachment, []byte) {
	var files []attachment
	var root []byte
	switch kind {
	case "sms":
		var box []byte
		for i, s := range f.SMS {
			var m []byte
			m = pbInt(m, 3, int64(s.Box))
			m = pbStr(m, 4, s.Address)
			if s.Subject != "" {
				m = pbStr(m, 5, s.Subject)
			}
			m = pbStr(m, 6, s.Body)
			if i%5 == 4 {
				// Some fields arrive as strings: the reader must accept both.
				m = pbStr(m, 7, fmt.Sprint(s.Date))
			} else {
				m = pbInt(m, 7, s.Date)
			}
			m = pbInt(m, 8, b2i(s.Read))
			m = pbInt(m, 11, s.DateSent)
			m = pbStr(m, 12, s.ServiceCenter)
			m = pbInt(m, 15, b2i(s.Locked))
			if opt.Unknown {
				m = pbInt(m, 99, int64(i))
			}
			box = pbBytes(box, 1, m)
		}
		root = pbBytes(root, 4, box)
	case "mms":
		var box []byte
		for _, s := range f.MMS {
			var m []byte
			m = pbInt(m, 3, int64(s.Box))
			if s.Subject != "" {
				m = pbStr(m, 5, s.Subject)
			}
			m = pbInt(m, 7, s.Date)
			m = pbInt(m, 8, b2i(s.Read))
			for _, p := range s.Parts {
				var pm []byte
				pm = pbInt(pm, 1, int64(p.Seq))
				pm = pbStr(pm, 2, p.ContentType)
				if p.Name != "" {
					pm = pbStr(pm, 3, p.Name)
				}
				if p.Charset != 0 {
					pm = pbInt(pm, 4, int64(p.Charset))
				}
				if p.Text != "" {
					pm = pbStr(pm, 7, p.Text)
				}
				if p.PhonePath != "" {
					pp := userPath(p.PhonePath, opt.User)
					pm = pbStr(pm, 8, "/"+pp)
					files = append(files, attachment{pp, p.Data})
				}
				m = pbBytes(m, 20, pm)
			}
			for _, a := range s.Addrs {
				var am []byte
				am = pbStr(am, 1, a.Address)
				am = pbInt(am, 2, int64(a.Type))
				am = pbInt(am, 3, 106)
				m = pbBytes(m, 21, am)
			}
			box = pbBytes(box, 2, m)
		}
		root = pbBytes(root, 4, box)
	case "contacts":
		for i, c := range f.Contacts {
			var m []byte
			if i%2 == 0 {
				m = pbInt(m, 2, int64(c.ID))
			} else {
				m = pbStr(m, 2, fmt.Sprint(c.ID))
			}
			var n []byte
			n = pbStr(n, 1, c.Display)
			n = pbStr(n, 2, c.Given)
			n = pbStr(n, 4, c.Family)
			m = pbBytes(m, 5, n)
			for _, p := range c.Phones {
				var pm []byte
				pm = pbStr(pm, 1, p.Number)
				pm = pbInt(pm, 2, int64(p.Type))
				m = pbBytes(m, 6, pm)
			}
			if opt.Unknown {
				m = pbStr(m, 30, "starred")
			}
			root = pbBytes(root, 1, pbBytes(nil, 2, m))
		}
	case "calls":
		var list []byte
		for i, c := range f.Calls {
			var m []byte
			if i%2 == 1 {
				m = pbStr(m, 2, fmt.Sprint(c.ID))
			} else {
				m = pbInt(m, 2, int64(c.ID))
			}
			m = pbStr(m, 3, c.Number)
			m = pbInt(m, 4, c.Date)
			m = pbInt(m, 5, c.Duration)
			m = pbInt(m, 6, int64(c.Type))
			if opt.Unknown {
				m = pbStr(m, 98, "geocoded location")
			}
			list = pbBytes(list, 1, m)
		}
		if opt.CallsTopLevel {
			root = list
		} else {
			root = pbBytes(root, 2, list)
		}
	case "notes":
		for _, fo := range f.Folders {
			var m []byte
			m = pbStr(m, 2, fmt.Sprint(fo.ID))
			m = pbInt(m, 5, f.Base.UnixMilli())
			m = pbInt(m, 6, f.Base.UnixMilli())
			m = pbStr(m, 9, fo.Name)
			root = pbBytes(root, 1, m)
		}
		for _, n := range f.Notes {
			var m []byte
			m = pbStr(m, 2, fmt.Sprint(n.ID))
			m = pbInt(m, 3, 0)
			m = pbInt(m, 4, int64(n.FolderID))
			m = pbInt(m, 5, n.Created)
			m = pbInt(m, 6, n.Modified)
			m = pbStr(m, 8, n.Content)
			for _, im := range n.Images {
				var fm []byte
				fm = pbStr(fm, 1, im.Mime)
				fm = pbInt(fm, 2, n.Created)
				fm = pbInt(fm, 3, n.Modified)
				fm = pbStr(fm, 4, im.FileID)
				m = pbBytes(m, 9, fm)
				files = append(files, attachment{fmt.Sprintf("data/user/%d/com.miui.notes/files/%s", opt.User, im.FileID), im.Data})
			}
			if n.Folder != "" {
				m = pbStr(m, 10, n.Folder)
			}
			m = pbStr(m, 14, n.Title)
			typ := "common"
			if n.Secret {
				typ = "secret"
			}
			m = pbStr(m, 15, typ)
			root = pbBytes(root, 2, m)
		}
	}
	return files, root
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func pbInt(b []byte, num protowire.Number, v int64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func pbStr(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// Stamp is the backup folder's name, yyyyMMdd_HHmmss.
func (f *Fixture) Stamp() string { return f.Base.Format("20060102_150405") }

// Descript returns the folder's descript.xml.
func (f *Fixture) Descript(opt Options) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<MIUI-backup>\n<device>Redmi Note 8</device>\n<miuiVersion>V12.5.1.0</miuiVersion>\n<date>%d</date>\n<size>0</size>\n<packages>\n", f.Base.UnixMilli())
	for _, k := range Kinds {
		ki := kinds[k]
		fmt.Fprintf(&b, "<package>\n<packageName>%s</packageName>\n<feature>%d</feature>\n<bakFile>%s</bakFile>\n<bakType>0</bakType>\n<state>0</state>\n<userId>%d</userId>\n</package>\n", ki.pkg, ki.feature, FileName(k), opt.User)
	}
	b.WriteString("</packages>\n</MIUI-backup>\n")
	return b.Bytes()
}

// Files returns the backup folder's files by name, in a fixed order.
func (f *Fixture) Files(opt Options) ([]string, map[string][]byte, error) {
	names := []string{"descript.xml"}
	out := map[string][]byte{"descript.xml": f.Descript(opt)}
	for _, k := range Kinds {
		b, err := f.Bak(k, opt)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, FileName(k))
		out[FileName(k)] = b
	}
	return names, out, nil
}

// WriteFolder writes MIUI/backup/AllBackup/<stamp>/ under root and returns
// that folder's path.
func (f *Fixture) WriteFolder(root string, opt Options) (string, error) {
	dir := filepath.Join(root, "MIUI", "backup", "AllBackup", f.Stamp())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	names, files, err := f.Files(opt)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return "", err
		}
		if err := os.Chtimes(p, f.Base, f.Base); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// WriteZip writes the HyperOS form: a zip holding the <stamp>/ folder.
func (f *Fixture) WriteZip(w io.Writer, opt Options) error {
	names, files, err := f.Files(opt)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, n := range names {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: path.Join(f.Stamp(), n), Method: zip.Deflate, Modified: f.Base})
		if err != nil {
			return err
		}
		if _, err := fw.Write(files[n]); err != nil {
			return err
		}
	}
	return zw.Close()
}
