package dropbox

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox"
	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/files"

	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/mapping"
)

func TestSegmentMappingIsReversible(t *testing.T) {
	for _, tc := range []struct {
		name, in, enc string
	}{
		{"plain name unchanged", "IMG_1.jpg", "IMG_1.jpg"},
		{"CJK unchanged", "照片 一.jpg", "照片 一.jpg"},
		{"backslash", `a\b.txt`, "a＼b.txt"},
		{"DEL", "a\x7fb", "a␡b"},
		{"trailing spaces", "Folder  ", "Folder␠␠"},
		{"inner spaces kept", "a b ", "a b␠"},
		{"look-alikes in the original are escaped", "x＼␠‛.txt", "x‛＼‛␠‛‛.txt"},
		{"escape mark then digits", "v‛2.txt", "v‛‛2.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := encodeSegment(tc.in)
			if enc != tc.enc {
				t.Errorf("encode(%q) = %q, want %q", tc.in, enc, tc.enc)
			}
			if dec := decodeSegment(enc); dec != tc.in {
				t.Errorf("decode(%q) = %q, want %q", enc, dec, tc.in)
			}
			if dec := decodeSegment(withCollisionMark(enc, 3)); dec != tc.in {
				t.Errorf("decode with a collision mark = %q, want %q", dec, tc.in)
			}
		})
	}
}

func TestNamerSeparatesCaseCollisions(t *testing.T) {
	n := newNamer("/f")
	for _, tc := range []struct {
		in, want string
		changed  bool
	}{
		{"media/DCIM/IMG_1.JPG", "/f/media/DCIM/IMG_1.JPG", false},
		{"media/DCIM/img_1.jpg", "/f/media/DCIM/img_1‛2.jpg", true},
		{"media/DCIM/IMG_1.JPG", "/f/media/DCIM/IMG_1.JPG", false}, // stable within a run
		{"media/dcim/b.jpg", "/f/media/dcim‛2/b.jpg", true},        // folder differing in case
		{"media/DCIM/c.jpg", "/f/media/DCIM/c.jpg", false},
		{"media/README", "/f/media/README", false},
		{"media/readme", "/f/media/readme‛2", true},
	} {
		got, changed := n.remote(tc.in)
		if got != tc.want || changed != tc.changed {
			t.Errorf("remote(%q) = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
		}
		if back := decodePath(strings.TrimPrefix(got, "/f/")); back != tc.in {
			t.Errorf("decodePath(%q) = %q, want %q", got, back, tc.in)
		}
	}
}

func TestFolderFor(t *testing.T) {
	for _, tc := range []struct {
		arg, source, want string
		bad               bool
	}{
		{"", "archive", "/miexit/archive", false},
		{"", "adb:ABC/123", "/miexit/adb_ABC_123", false},
		{"/Apps/miexit/", "x", "/Apps/miexit", false},
		{"/Some/../Folder", "x", "/Folder", false},
		{"relative", "x", "", true},
		{"/", "x", "", true},
		{"/Trailing /x", "x", "", true},
		{`/back\slash`, "x", "", true},
	} {
		got, err := FolderFor(tc.arg, tc.source)
		if tc.bad {
			if !errors.Is(err, mapping.ErrBadInput) {
				t.Errorf("FolderFor(%q) err = %v, want ErrBadInput", tc.arg, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("FolderFor(%q, %q) = %q, %v; want %q", tc.arg, tc.source, got, err, tc.want)
		}
	}
}

// The fake refuses a raw UTF-8 Dropbox-API-Arg, as Dropbox does; the SDK
// sends one; the importer's transport escapes it.
func TestNonASCIINamesNeedTheEscapingTransport(t *testing.T) {
	srv := dropboxtest.New(t, testToken)
	raw := files.NewContext(dropbox.Config{Token: testToken, URLGenerator: srv.URLGenerator})
	arg := &files.UploadArg{CommitInfo: files.CommitInfo{Path: "/测试/照片😀.jpg", Mode: &files.WriteMode{Tagged: dropbox.Tagged{Tag: "add"}}}}
	if _, err := raw.UploadContext(context.Background(), arg, strings.NewReader("x")); err == nil {
		t.Fatal("the fake accepted raw UTF-8 in Dropbox-API-Arg")
	}
	f := &fixture{t: t, srv: srv, sleeps: &sleeps{}, folder: "/x"}
	im := f.importer()
	if _, err := im.client.UploadContext(context.Background(), arg, strings.NewReader("x")); err != nil {
		t.Fatalf("through the importer's transport: %v", err)
	}
	if _, ok := srv.Stat("/测试/照片😀.jpg"); !ok {
		t.Errorf("file not stored under its CJK name (emoji via a surrogate pair); have %v", srv.Files())
	}
}

func TestEscapeJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"path":"/a"}`:   `{"path":"/a"}`,
		`{"path":"/照"}`:   `{"path":"/\u7167"}`,
		`{"path":"/😀"}`:   `{"path":"/\ud83d\ude00"}`,
		`{"path":"/é\""}`: `{"path":"/\u00e9\""}`,
	} {
		if got := escapeJSON(in); got != want {
			t.Errorf("escapeJSON(%s) = %s, want %s", in, got, want)
		}
	}
}
