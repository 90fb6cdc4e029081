// Package quickxorhash computes OneDrive's QuickXorHash, the one checksum
// Microsoft Graph gives for files on every kind of account
// (file.hashes.quickXorHash).
//
// The algorithm, as Microsoft's C# sample computes it (its prose mentions a
// reversal that the sample does not do): a 160-bit vector; byte n of the
// input is XORed in at bit offset (n*11) mod 160, wrapping around the end;
// the result is the vector's 20 bytes, little-endian, with the 64-bit
// little-endian input length XORed into bytes 12..19.
package quickxorhash

import (
	"encoding/binary"
	"hash"
)

const (
	// Size is the length of a QuickXorHash in bytes.
	Size = 20
	// BlockSize is the hash's period in bytes: byte n and byte n+160 land
	// on the same bits.
	BlockSize = 160
	shift     = 11
	widthBits = Size * 8
)

// digest keeps, instead of the vector itself, the XOR of every input byte
// at each position modulo the period: since 160*11 is a multiple of 160,
// a byte's bit offset depends only on its position mod 160, so the vector
// can be folded once in Sum and Write stays a plain XOR loop.
type digest struct {
	acc [BlockSize]byte
	pos int // length mod BlockSize
	n   uint64
}

// New returns a hash.Hash computing QuickXorHash.
func New() hash.Hash { return &digest{} }

func (d *digest) Write(p []byte) (int, error) {
	n := len(p)
	d.n += uint64(n)
	pos := d.pos
	// Finish the current period byte by byte, then whole periods.
	for len(p) > 0 && pos != 0 {
		d.acc[pos] ^= p[0]
		p = p[1:]
		pos++
		if pos == BlockSize {
			pos = 0
		}
	}
	for len(p) >= BlockSize {
		blk := p[:BlockSize]
		for i := 0; i < BlockSize; i += 8 {
			v := binary.LittleEndian.Uint64(d.acc[i:]) ^ binary.LittleEndian.Uint64(blk[i:])
			binary.LittleEndian.PutUint64(d.acc[i:], v)
		}
		p = p[BlockSize:]
	}
	for _, b := range p {
		d.acc[pos] ^= b
		pos++
	}
	d.pos = pos
	return n, nil
}

func (d *digest) Sum(in []byte) []byte {
	var v [Size]byte
	for k, b := range d.acc {
		if b == 0 {
			continue
		}
		bit := (k * shift) % widthBits
		w := uint16(b) << (bit % 8)
		v[bit/8] ^= byte(w)
		v[(bit/8+1)%Size] ^= byte(w >> 8)
	}
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], d.n)
	for i, b := range l {
		v[Size-8+i] ^= b
	}
	return append(in, v[:]...)
}

func (d *digest) Reset()         { *d = digest{} }
func (d *digest) Size() int      { return Size }
func (d *digest) BlockSize() int { return BlockSize }
