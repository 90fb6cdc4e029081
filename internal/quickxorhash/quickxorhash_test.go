package quickxorhash

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func sum(b []byte) string {
	h := New()
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func mod251(n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(k % 251)
	}
	return b
}

func TestPublishedVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty input", nil, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"hello world", []byte("hello world"), "aCgDG9jwBhDc4Q1yawMZAAAAAAA="},
		{"1 MiB of k mod 251", mod251(1 << 20), "pVcWCkWK/HTa4DMyE2B1A1Y9XyM="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sum(tc.in); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// naive is the algorithm as stated, bit by bit, to check the folded one.
func naive(p []byte) []byte {
	var v [Size]byte
	for n, b := range p {
		for j := 0; j < 8; j++ {
			if b&(1<<j) == 0 {
				continue
			}
			bit := (n*shift + j) % widthBits
			v[bit/8] ^= 1 << (bit % 8)
		}
	}
	l := uint64(len(p))
	for i := 0; i < 8; i++ {
		v[12+i] ^= byte(l >> (8 * i))
	}
	return v[:]
}

func TestWritesStraddlingThePeriod(t *testing.T) {
	data := mod251(3*BlockSize + 77)
	want := sum(data)
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"one byte short of a period then the rest", []int{BlockSize - 1, 2, len(data)}},
		{"exactly one period then odd pieces", []int{BlockSize, 13, BlockSize + 1, 1}},
		{"single bytes across the boundary", []int{158, 1, 1, 1, 1, 500}},
		{"a write longer than two periods from an offset", []int{7, 2*BlockSize + 5, 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New()
			rest := data
			for _, n := range tc.sizes {
				n = min(n, len(rest))
				h.Write(rest[:n])
				rest = rest[n:]
			}
			h.Write(rest)
			if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestMatchesBitByBitDefinition(t *testing.T) {
	for _, n := range []int{0, 1, 11, 159, 160, 161, 320, 1000} {
		data := mod251(n)
		for i := range data {
			data[i] ^= byte(i * 7)
		}
		h := New()
		h.Write(data)
		if got, want := h.Sum(nil), naive(data); !bytes.Equal(got, want) {
			t.Errorf("%d bytes: got %x, want %x", n, got, want)
		}
	}
}

func TestSumDoesNotChangeState(t *testing.T) {
	h := New()
	h.Write([]byte("hello "))
	h.Sum(nil)
	h.Write([]byte("world"))
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != "aCgDG9jwBhDc4Q1yawMZAAAAAAA=" {
		t.Errorf("got %s after an intermediate Sum", got)
	}
	h.Reset()
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" {
		t.Errorf("got %s after Reset", got)
	}
}

func FuzzChunkedEqualsWhole(f *testing.F) {
	f.Add([]byte("hello world"), uint8(3))
	f.Add(mod251(400), uint8(159))
	f.Add(mod251(1000), uint8(160))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := New()
		whole.Write(data)
		chunked := New()
		s := int(step)%200 + 1
		for i := 0; i < len(data); {
			end := min(i+s, len(data))
			chunked.Write(data[i:end])
			i = end
			s = s*7%200 + 1 // vary the piece sizes
		}
		if a, b := whole.Sum(nil), chunked.Sum(nil); !bytes.Equal(a, b) {
			t.Fatalf("chunked %x != whole %x", b, a)
		}
		if a, b := whole.Sum(nil), naive(data); !bytes.Equal(a, b) {
			t.Fatalf("folded %x != bit-by-bit %x", a, b)
		}
	})
}

func BenchmarkWrite(b *testing.B) {
	data := mod251(1 << 20)
	b.SetBytes(int64(len(data)))
	h := New()
	for b.Loop() {
		h.Write(data)
	}
}
