// Package dropboxhash computes Dropbox's content_hash: the SHA-256 of the
// concatenated SHA-256 digests of each 4 MiB block of a file. Dropbox
// returns it for every file, so a local copy can be compared with the
// server's without downloading anything.
//
// See https://www.dropbox.com/developers/reference/content-hash.
package dropboxhash

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash"
	"io"
)

// BlockSize is the size of the blocks Dropbox hashes separately.
const BlockSize = 4 << 20

// Size is the length of a content hash in bytes.
const Size = sha256.Size

type digest struct {
	overall hash.Hash // over the block digests so far
	block   hash.Hash // over the current block
	n       int       // bytes in the current block
}

// New returns a hash.Hash computing Dropbox's content_hash. It streams:
// memory stays at two SHA-256 states whatever the input size.
func New() hash.Hash {
	return &digest{overall: sha256.New(), block: sha256.New()}
}

func (d *digest) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		take := min(BlockSize-d.n, len(p))
		d.block.Write(p[:take])
		d.n += take
		p = p[take:]
		if d.n == BlockSize {
			d.overall.Write(d.block.Sum(nil))
			d.block.Reset()
			d.n = 0
		}
	}
	return total, nil
}

// Sum appends the content hash to b without changing the state, as
// hash.Hash requires: the overall state is cloned before the partial
// block's digest is added.
func (d *digest) Sum(b []byte) []byte {
	if d.n == 0 {
		return d.overall.Sum(b)
	}
	state, err := d.overall.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic("dropboxhash: sha256 state: " + err.Error())
	}
	o := sha256.New()
	if err := o.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		panic("dropboxhash: sha256 state: " + err.Error())
	}
	o.Write(d.block.Sum(nil))
	return o.Sum(b)
}

func (d *digest) Reset() {
	d.overall.Reset()
	d.block.Reset()
	d.n = 0
}

func (d *digest) Size() int      { return Size }
func (d *digest) BlockSize() int { return sha256.BlockSize }

// Hex returns the hex content hash of everything read from r.
func Hex(r io.Reader) (string, error) {
	h := New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Pair computes a stream's plain SHA-256 and its content hash together.
// The first block's digest is the plain SHA-256's state at the block's
// end, so that block is hashed once, not twice: a file of one block (a
// photo) costs one SHA-256 pass instead of two, and a larger one saves its
// first 4 MiB.
type Pair struct {
	sha     hash.Hash
	content *digest // blocks after the first; the first's digest goes in at its end
	n       int64
}

// NewPair returns an empty Pair.
func NewPair() *Pair {
	return &Pair{sha: sha256.New(), content: New().(*digest)}
}

func (p *Pair) Write(b []byte) (int, error) {
	total := len(b)
	if p.n < BlockSize {
		head := b[:min(int64(len(b)), BlockSize-p.n)]
		p.sha.Write(head)
		p.n += int64(len(head))
		b = b[len(head):]
		if p.n == BlockSize {
			p.content.overall.Write(p.sha.Sum(nil))
		}
	}
	if len(b) > 0 {
		p.sha.Write(b)
		p.content.Write(b)
		p.n += int64(len(b))
	}
	return total, nil
}

// SHA256 is the plain SHA-256 of what was written.
func (p *Pair) SHA256() []byte { return p.sha.Sum(nil) }

// ContentHash is Dropbox's content hash of what was written.
func (p *Pair) ContentHash() []byte {
	if p.n == 0 || p.n >= BlockSize {
		return p.content.Sum(nil)
	}
	// One short block: the hash of its digest.
	s := sha256.Sum256(p.sha.Sum(nil))
	return s[:]
}

// OfOneBlock returns the content hash of size bytes whose SHA-256 is sum.
// Only a stream of one block has one that follows from its SHA-256 (the
// hash of that digest), so ok is false unless 0 < size <= BlockSize.
func OfOneBlock(sum []byte, size int64) (ch []byte, ok bool) {
	if size <= 0 || size > BlockSize || len(sum) != sha256.Size {
		return nil, false
	}
	s := sha256.Sum256(sum)
	return s[:], true
}
