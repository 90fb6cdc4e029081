package onedrive

import (
	"strings"
	"testing"
)

func TestNamesRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain name unchanged", "IMG_0001.jpg", "IMG_0001.jpg"},
		{"chinese name unchanged", "照片 2024.jpg", "照片 2024.jpg"},
		{"refused characters become full-width", `a:b*c?"d"<e>|f\g.txt`, `a：b＊c？＂d＂＜e＞｜f＼g.txt`},
		{"business characters mapped", "50% #1.md", "50％ ＃1.md"},
		{"leading and trailing space, trailing period", " x .", "␠x ．"},
		{"existing full-width character is escaped", "a：b", "a‛：b"},
		{"existing quote is escaped", "a‛2.jpg", "a‛‛2.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeName(tc.in)
			if got != tc.want {
				t.Errorf("encodeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if strings.ContainsAny(got, `\*<>?:|"#%`) {
				t.Errorf("encoded %q still holds a refused character", got)
			}
			if back := decodeName(got); back != tc.in {
				t.Errorf("decodeName(%q) = %q, want %q", got, back, tc.in)
			}
		})
	}
}

func TestNamerKeepsCaseClashesApart(t *testing.T) {
	n := newNamer()
	paths := []string{"media/DCIM/IMG_1.JPG", "media/DCIM/img_1.jpg", "media/dcim/x.jpg", "media/DCIM/Img_1.jpg", "notes/a:b.md"}
	seen := map[string]string{}
	for _, p := range paths {
		r, _ := n.assign(p)
		if o, dup := seen[strings.ToLower(r)]; dup {
			t.Fatalf("%s and %s both map to %s (case-insensitively)", o, p, r)
		}
		seen[strings.ToLower(r)] = p
		if back := decodePath(r); back != p {
			t.Errorf("%s -> %s decodes to %s", p, r, back)
		}
	}
	if r, clash := n.assign("media/DCIM/IMG_1.JPG"); r != "media/DCIM/IMG_1.JPG" || clash {
		t.Errorf("first path of a clash should keep its name, got %s (clash %v)", r, clash)
	}
	if r, clash := n.assign("media/DCIM/img_1.jpg"); !clash || r != "media/DCIM/img_1‛2.jpg" {
		t.Errorf("second path of a clash got %s (clash %v)", r, clash)
	}
}
