package verify

import (
	"strings"
	"testing"

	"github.com/miexit/miexit/mapping"
)

// The compact form verify keeps of a listing must give compare exactly the
// size and checksums the destination listed.
func TestHeldGivesBackWhatCompareReads(t *testing.T) {
	lower := strings.Repeat("ab", 32)
	zeros := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name string
		r    mapping.Remote
	}{
		{"lower-case sha256", mapping.Remote{Size: 7, SHA256: lower}},
		{"all-zero sha256", mapping.Remote{Size: 1, SHA256: zeros}},
		{"upper-case sha256 kept as listed", mapping.Remote{Size: 2, SHA256: strings.ToUpper(lower)}},
		{"short sha256 kept as listed", mapping.Remote{Size: 3, SHA256: "abc"}},
		{"destination hash only", mapping.Remote{Size: 4, Hash: "dropbox-content-hash"}},
		{"no checksum", mapping.Remote{Size: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hold(tc.r).remote(mapping.KindMedia)
			if got.Size != tc.r.Size || got.SHA256 != tc.r.SHA256 || got.Hash != tc.r.Hash || got.Kind != mapping.KindMedia {
				t.Errorf("hold(%+v).remote() = %+v", tc.r, got)
			}
		})
	}
}

func TestHeldKeysTellPathsApart(t *testing.T) {
	seen := map[heldKey]string{}
	for _, p := range []string{"media/DCIM/a.jpg", "media/DCIM/A.jpg", "media/DCIM/a.jpg ", "", "k1", "k2"} {
		if q, dup := seen[keyOf(p)]; dup {
			t.Errorf("%q and %q share a key", p, q)
		}
		seen[keyOf(p)] = p
	}
	if keyOf("x") != keyOf("x") {
		t.Error("keyOf is not deterministic")
	}
}
