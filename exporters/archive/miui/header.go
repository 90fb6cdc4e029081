package miui

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/miexit/miexit/mapping"
)

// Magic lines that open a MIUI backup file and the Android backup inside it.
const (
	miuiMagic    = "MIUI BACKUP"
	androidMagic = "ANDROID BACKUP"
	// maxLine bounds one header line: the longest real one is a hex
	// master-key blob of about 200 characters.
	maxLine = 4096
	// maxRounds bounds the PBKDF2 work a file can ask for: Android always
	// writes 10000, and a crafted header must not cost minutes of CPU.
	maxRounds = 100_000
)

// Header is what the text lines before the tar stream say.
type Header struct {
	// MIUI is false for a bare Android backup (adb backup) without the
	// MIUI lines; Package and Feature are then unknown until the tar.
	MIUI        bool
	MIUIVersion int
	Package     string
	// Label is the localized name ("短信"); never used to identify data.
	Label string
	// Feature tells apart several files of one package; -1 is a whole-app
	// backup.
	Feature int
	// MIUIEncrypted is MIUI's own flag; the Android header below says how
	// the stream is really encrypted.
	MIUIEncrypted bool

	Version    int // Android backup format, 1 to 5
	Compressed bool
	Encryption string // "none" or "AES-256"
	// Set when Encryption is AES-256.
	UserSalt, CheckSalt, UserIV, MasterKeyBlob []byte
	Rounds                                     int
}

// Encrypted reports whether the stream needs a password.
func (h *Header) Encrypted() bool { return h.Encryption != "none" }

// LooksLikeBackup reports whether head, the first bytes of a file, opens a
// MIUI or Android backup. 16 bytes are enough.
func LooksLikeBackup(head []byte) bool {
	return bytes.HasPrefix(head, []byte(miuiMagic+"\n")) || bytes.HasPrefix(head, []byte(androidMagic+"\n"))
}

func badHeader(format string, a ...any) error {
	return fmt.Errorf("%w: backup header: %s", mapping.ErrBadInput, fmt.Sprintf(format, a...))
}

// readLine reads one '\n'-terminated line of at most maxLine bytes. A CR
// before the newline is dropped: some tools rewrite line ends.
func readLine(r *bufio.Reader, what string) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxLine {
			return "", badHeader("%s line is longer than %d bytes", what, maxLine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return "", badHeader("file ends before the %s line", what)
		}
		return "", fmt.Errorf("backup header: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return s, nil
}

func readInt(r *bufio.Reader, what string, lo, hi int) (int, error) {
	s, err := readLine(r, what)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		return 0, badHeader("%s %q is not a number from %d to %d", what, s, lo, hi)
	}
	return n, nil
}

func readHex(r *bufio.Reader, what string) ([]byte, error) {
	s, err := readLine(r, what)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) == 0 {
		return nil, badHeader("%s is not hexadecimal", what)
	}
	return b, nil
}

// ReadHeader reads the header lines one by one and leaves r at the first
// byte of the (possibly encrypted, possibly compressed) tar stream. Reading
// line by line matters: the MIUI part has 5 or 6 lines and the encryption
// part 5 more, so skipping a fixed length breaks on real files.
func ReadHeader(r *bufio.Reader) (Header, error) {
	var h Header
	head, _ := r.Peek(len(androidMagic) + 1)
	if !LooksLikeBackup(head) {
		return h, badHeader("starts with %q, not %q or %q", clip(string(head)), miuiMagic, androidMagic)
	}
	first, err := readLine(r, "first")
	if err != nil {
		return h, err
	}
	if first == miuiMagic {
		h.MIUI = true
		if h.MIUIVersion, err = readInt(r, "MIUI backup version", 1, 99); err != nil {
			return h, err
		}
		pkg, err := readLine(r, "package")
		if err != nil {
			return h, err
		}
		pkg = strings.TrimSpace(pkg)
		h.Package, h.Label, _ = strings.Cut(pkg, " ")
		if !validPackage(h.Package) {
			return h, badHeader("package name %q is not an Android package name", h.Package)
		}
		if h.Feature, err = readInt(r, "feature id", -1, 1<<30); err != nil {
			return h, err
		}
		enc, err := readInt(r, "encryption flag", 0, 1)
		if err != nil {
			return h, err
		}
		h.MIUIEncrypted = enc == 1
		if h.MIUIEncrypted {
			// MIUI's stored password check; the Android header below
			// carries what decryption needs.
			if _, err := readLine(r, "password"); err != nil {
				return h, err
			}
		}
		if first, err = readLine(r, "Android backup"); err != nil {
			return h, err
		}
	}
	if first != androidMagic {
		return h, badHeader("starts with %q, not %q or %q", clip(first), miuiMagic, androidMagic)
	}
	if h.Version, err = readInt(r, "Android backup version", 1, 5); err != nil {
		return h, err
	}
	c, err := readInt(r, "compression flag", 0, 1)
	if err != nil {
		return h, err
	}
	h.Compressed = c == 1
	if h.Encryption, err = readLine(r, "encryption"); err != nil {
		return h, err
	}
	switch h.Encryption {
	case "none":
	case "AES-256":
		if h.UserSalt, err = readHex(r, "user salt"); err != nil {
			return h, err
		}
		if h.CheckSalt, err = readHex(r, "checksum salt"); err != nil {
			return h, err
		}
		if h.Rounds, err = readInt(r, "PBKDF2 rounds", 1, maxRounds); err != nil {
			return h, err
		}
		if h.UserIV, err = readHex(r, "user IV"); err != nil {
			return h, err
		}
		if h.MasterKeyBlob, err = readHex(r, "master key blob"); err != nil {
			return h, err
		}
	default:
		return h, badHeader("unknown encryption %q (known: none, AES-256)", clip(h.Encryption))
	}
	return h, nil
}

func validPackage(p string) bool {
	if p == "" || len(p) > 255 {
		return false
	}
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
		default:
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
