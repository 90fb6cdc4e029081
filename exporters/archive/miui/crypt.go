package miui

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/miexit/miexit/mapping"
)

// ErrPassword marks a missing or wrong password for an encrypted backup.
// It wraps mapping.ErrBadInput, so the CLI treats it as the user's to fix.
var ErrPassword = fmt.Errorf("%w: password", mapping.ErrBadInput)

const keyLen = 32 // AES-256

// masterKey unlocks the master-key blob of an encrypted Android backup, as
// AOSP's adb restore does: PBKDF2-SHA1 of the password decrypts the blob
// with AES-256-CBC; the blob holds the stream IV, the master key and a
// checksum of the key that proves the password right.
func masterKey(h *Header, password string) (key, iv []byte, err error) {
	if password == "" {
		return nil, nil, fmt.Errorf("%w: this backup is encrypted (AES-256); give the password it was made with, e.g. --password 'secret'", ErrPassword)
	}
	// Android's PBKDF2WithHmacSHA1 turns Java chars into UTF-8; version 1
	// backups may have been made with PBKDF2WithHmacSHA1And8bit, which keeps
	// only the low byte of each char, for the password and the checksum.
	if key, iv, ok := tryMasterKey(h, password, false); ok {
		return key, iv, nil
	}
	if h.Version == 1 {
		if key, iv, ok := tryMasterKey(h, lowBytes(password), true); ok {
			return key, iv, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: the password does not open this backup (AES-256); check it and give it again with --password", ErrPassword)
}

func tryMasterKey(h *Header, pw string, eightBit bool) (key, iv []byte, ok bool) {
	userKey, err := pbkdf2.Key(sha1.New, pw, h.UserSalt, h.Rounds, keyLen)
	if err != nil {
		return nil, nil, false
	}
	blob, err := cbcDecryptAll(userKey, h.UserIV, h.MasterKeyBlob)
	if err != nil {
		return nil, nil, false
	}
	var parts [3][]byte
	for i := range parts {
		if len(blob) < 1 {
			return nil, nil, false
		}
		n := int(blob[0])
		if len(blob) < 1+n {
			return nil, nil, false
		}
		parts[i], blob = blob[1:1+n], blob[1+n:]
	}
	iv, key, sum := parts[0], parts[1], parts[2]
	if len(iv) != aes.BlockSize || len(key) != keyLen {
		return nil, nil, false
	}
	ckPw := string(javaCharsUTF8(key))
	if eightBit {
		ckPw = string(key)
	}
	want, err := pbkdf2.Key(sha1.New, ckPw, h.CheckSalt, h.Rounds, len(sum))
	if err != nil || !bytes.Equal(want, sum) {
		return nil, nil, false
	}
	return key, iv, true
}

// javaCharsUTF8 reproduces AOSP's makeKeyChecksum: each key byte is cast to
// a Java char (sign-extended, so 0x80 becomes U+FF80) and the chars are then
// encoded as UTF-8 by PBKDF2WithHmacSHA1.
func javaCharsUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)*3)
	for _, c := range b {
		r := rune(c)
		if c >= 0x80 {
			r = 0xFF00 | rune(c)
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

func lowBytes(s string) string {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

func cbcDecryptAll(key, iv, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 || len(iv) != aes.BlockSize {
		return nil, errors.New("bad ciphertext length")
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(pt, ct)
	return unpad(pt)
}

func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, errors.New("bad padding")
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, errors.New("bad padding")
		}
	}
	return b[:len(b)-n], nil
}

// cbcReader decrypts an AES-CBC stream with PKCS#7 padding as it is read,
// holding back the last block until it knows it is the last.
type cbcReader struct {
	src  io.Reader
	mode cipher.BlockMode
	in   []byte // ciphertext read, not yet decrypted (whole blocks + tail)
	out  []byte // plaintext ready
	held []byte // last decrypted block, may carry the padding
	eof  bool
	buf  []byte
}

func newCBCReader(src io.Reader, key, iv []byte) (io.Reader, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &cbcReader{src: src, mode: cipher.NewCBCDecrypter(blk, iv)}, nil
}

func (c *cbcReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		if c.buf == nil {
			c.buf = make([]byte, 32<<10)
		}
		n, err := io.ReadFull(c.src, c.buf)
		c.in = append(c.in, c.buf[:n]...)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			c.eof = true
		} else if err != nil {
			return 0, err
		}
		whole := len(c.in) / aes.BlockSize * aes.BlockSize
		if c.eof && whole != len(c.in) {
			return 0, fmt.Errorf("%w: encrypted stream ends inside a block (truncated file?)", mapping.ErrBadInput)
		}
		if whole > 0 {
			pt := make([]byte, whole)
			c.mode.CryptBlocks(pt, c.in[:whole])
			c.in = append(c.in[:0], c.in[whole:]...)
			c.out = append(c.out, c.held...)
			c.out = append(c.out, pt[:whole-aes.BlockSize]...)
			c.held = pt[whole-aes.BlockSize:]
		}
		if c.eof {
			if c.held == nil {
				return 0, fmt.Errorf("%w: encrypted stream is empty", mapping.ErrBadInput)
			}
			last, err := unpad(c.held)
			if err != nil {
				return 0, fmt.Errorf("%w: encrypted stream has bad padding (truncated or corrupt file)", mapping.ErrBadInput)
			}
			c.out = append(c.out, last...)
			c.held = nil
			if len(c.out) == 0 {
				return 0, io.EOF
			}
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}
