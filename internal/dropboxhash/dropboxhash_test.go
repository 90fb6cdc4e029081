package dropboxhash

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/contenthash"
)

// reference is the definition written out the slow way: hash each block,
// concatenate the digests, hash that.
func reference(b []byte) string {
	var cat []byte
	for len(b) > 0 {
		n := min(BlockSize, len(b))
		s := sha256.Sum256(b[:n])
		cat = append(cat, s[:]...)
		b = b[n:]
	}
	s := sha256.Sum256(cat)
	return hex.EncodeToString(s[:])
}

func sum(b []byte, chunk int) string {
	h := New()
	for len(b) > 0 {
		n := min(chunk, len(b))
		h.Write(b[:n])
		b = b[n:]
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestPublishedVectors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		// Empty input has no blocks: the hash of nothing. Published in
		// Cyberduck's DropboxChecksumComputeTest and the SDK's own tests.
		{"empty file", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		// One short block: sha256(sha256("a")); the SDK's test lists the same.
		{"one byte", "a", "bf5d3affb73efd2ec6c36ad3112dd933efed63c4e1cbffcfa88e2759c144f2d8"},
		{"short text", "abc", "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sum([]byte(tc.data), 7); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBlockBoundaries(t *testing.T) {
	data := make([]byte, 2*BlockSize+3)
	r := rand.NewChaCha8([32]byte{7})
	r.Read(data)
	for _, tc := range []struct {
		name string
		size int
	}{
		{"one byte short of a block", BlockSize - 1},
		{"exactly one block", BlockSize},
		{"one byte into the second block", BlockSize + 1},
		{"exactly two blocks", 2 * BlockSize},
		{"two blocks and a bit", 2*BlockSize + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := data[:tc.size]
			want := reference(b)
			sdk, err := contenthash.Compute(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if sdk != want {
				t.Fatalf("reference %s disagrees with the SDK's %s", want, sdk)
			}
			// Chunk sizes that straddle block edges, and one write of all.
			for _, chunk := range []int{1 << 20, 65537, 3*BlockSize - 1} {
				if got := sum(b, chunk); got != want {
					t.Errorf("written in %d-byte chunks: got %s, want %s", chunk, got, want)
				}
			}
		})
	}
}

func TestSumLeavesStateAlone(t *testing.T) {
	data := make([]byte, BlockSize+10)
	h := New()
	h.Write(data[:BlockSize+5])
	mid := hex.EncodeToString(h.Sum(nil))
	if mid != reference(data[:BlockSize+5]) {
		t.Fatalf("midway sum wrong")
	}
	h.Write(data[BlockSize+5:])
	if got := hex.EncodeToString(h.Sum(nil)); got != reference(data) {
		t.Errorf("sum after a midway Sum: got %s, want %s", got, reference(data))
	}
	h.Reset()
	if got := hex.EncodeToString(h.Sum(nil)); got != reference(nil) {
		t.Errorf("after Reset: got %s", got)
	}
}

func TestHex(t *testing.T) {
	got, err := Hex(bytes.NewReader([]byte("abc")))
	if err != nil || got != "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358" {
		t.Errorf("Hex = %s, %v", got, err)
	}
}

func BenchmarkContentHash(b *testing.B) {
	buf := make([]byte, 1<<20)
	h := New()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h.Write(buf)
	}
}

func TestPairIsBothHashes(t *testing.T) {
	data := make([]byte, 2*BlockSize+3)
	rand.NewChaCha8([32]byte{9}).Read(data)
	for _, size := range []int{0, 1, 3, BlockSize - 1, BlockSize, BlockSize + 1, 2 * BlockSize, 2*BlockSize + 3} {
		b := data[:size]
		wantSHA := sha256.Sum256(b)
		wantCH := reference(b)
		for _, chunk := range []int{1, 65537, BlockSize, 3*BlockSize - 1} {
			if chunk == 1 && size > 1<<16 {
				continue
			}
			p := NewPair()
			for rest := b; len(rest) > 0; {
				n := min(chunk, len(rest))
				p.Write(rest[:n])
				rest = rest[n:]
			}
			if got := hex.EncodeToString(p.SHA256()); got != hex.EncodeToString(wantSHA[:]) {
				t.Errorf("%d bytes in %d-byte writes: sha256 %s, want %x", size, chunk, got, wantSHA)
			}
			if got := hex.EncodeToString(p.ContentHash()); got != wantCH {
				t.Errorf("%d bytes in %d-byte writes: content hash %s, want %s", size, chunk, got, wantCH)
			}
			// Asking leaves the state alone.
			if got := hex.EncodeToString(p.ContentHash()); got != wantCH {
				t.Errorf("%d bytes: content hash asked twice: %s", size, got)
			}
		}
	}
}

func TestOfOneBlock(t *testing.T) {
	data := make([]byte, BlockSize+1)
	rand.NewChaCha8([32]byte{3}).Read(data)
	for _, size := range []int{1, 100 << 10, BlockSize} {
		s := sha256.Sum256(data[:size])
		ch, ok := OfOneBlock(s[:], int64(size))
		if !ok || hex.EncodeToString(ch) != reference(data[:size]) {
			t.Errorf("%d bytes: OfOneBlock = %x, %v; want %s", size, ch, ok, reference(data[:size]))
		}
	}
	// Nothing, or more than a block, has no such shortcut.
	for _, size := range []int{0, BlockSize + 1} {
		s := sha256.Sum256(data[:size])
		if ch, ok := OfOneBlock(s[:], int64(size)); ok {
			t.Errorf("%d bytes: OfOneBlock = %x, want none", size, ch)
		}
	}
	if _, ok := OfOneBlock([]byte{1, 2}, 5); ok {
		t.Error("a short digest was taken")
	}
}

func FuzzPair(f *testing.F) {
	f.Add([]byte("abc"), uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint16) {
		c := max(int(chunk), 1)
		p := NewPair()
		for rest := b; len(rest) > 0; {
			n := min(c, len(rest))
			p.Write(rest[:n])
			rest = rest[n:]
		}
		s := sha256.Sum256(b)
		if !bytes.Equal(p.SHA256(), s[:]) || hex.EncodeToString(p.ContentHash()) != reference(b) {
			t.Fatalf("%d bytes in %d-byte writes: pair disagrees", len(b), c)
		}
	})
}

func BenchmarkPair(b *testing.B) {
	buf := make([]byte, 100<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		p := NewPair()
		p.Write(buf)
		p.ContentHash()
	}
}

// BenchmarkSeparate is what Pair replaces: a sha256 and a content hash
// fed the same bytes.
func BenchmarkSeparate(b *testing.B) {
	buf := make([]byte, 100<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		s, c := sha256.New(), New()
		s.Write(buf)
		c.Write(buf)
		c.Sum(nil)
	}
}
