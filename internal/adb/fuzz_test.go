package adb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

// The frame parsers read what the ADB server and the phone send: a broken
// or hostile peer must give errors, never a panic, a hang, or an
// allocation sized by a length field. Seeds: testdata/fuzz/<FuzzName>/ and
// the f.Add calls (valid frames of each kind); `.ci/fuzz` runs them longer.

// allocCap bounds what one input may allocate: the 256 KiB session buffer,
// the 64 KiB caps on a DATA chunk, a FAIL message and stderr, a few
// records, plus the input itself (bytes.Reader copies nothing, but a
// string conversion of a name or message may).
func allocCap(data []byte) uint64 { return 2<<20 + 4*uint64(len(data)) }

// allocated runs fn and returns the bytes it allocated.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// sink is the wire a fuzzed session writes its requests to.
type sink struct{ io.Reader }

func (sink) Write(p []byte) (int, error) { return len(p), nil }
func (sink) Close() error                { return nil }

// frame builds a sync record: id, little-endian u32, payload.
func frame(id string, n uint32, payload ...byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	copy(b, id)
	binary.LittleEndian.PutUint32(b[4:], n)
	return append(b, payload...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func stat2(errno, mode uint32, size uint64) []byte {
	b := make([]byte, 68)
	binary.LittleEndian.PutUint32(b[0:], errno)
	binary.LittleEndian.PutUint32(b[20:], mode)
	binary.LittleEndian.PutUint64(b[36:], size)
	binary.LittleEndian.PutUint64(b[52:], 1700000000)
	return b
}

func dent2(name string) []byte {
	b := append([]byte("DNT2"), stat2(0, 0o100644, 5)...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
	return append(b, name...)
}

// runSync plays one session over data: a stat, a listing, a pull read to
// its end, and another stat, stopping where the session breaks.
func runSync(v2, ls2 bool, data []byte) {
	s := &Sync{rc: sink{}, br: bufio.NewReaderSize(bytes.NewReader(data), 256<<10), ctx: context.Background(), v2: v2, ls2: ls2}
	s.Stat("/sdcard/DCIM")
	entries := 0
	for _, err := range s.List("/sdcard/DCIM") {
		if err != nil {
			break
		}
		if entries++; entries > len(data) {
			panic("more entries than bytes: the listing loops")
		}
	}
	if r, err := s.Recv("/sdcard/DCIM/a.jpg"); err == nil {
		n, _ := io.Copy(io.Discard, r)
		if n > int64(len(data)) {
			panic("pulled more bytes than were sent")
		}
		r.Close()
	}
	s.Stat("/sdcard/Music")
}

func FuzzSyncFrames(f *testing.F) {
	f.Add(false, false, cat(frame("STAT", 0o100644, 5, 0, 0, 0, 0, 0, 0, 0), frame("DENT", 0o100644, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 'a', '.', 'j', 'p', 'g'), frame("DONE", 0), frame("DATA", 5, 'h', 'e', 'l', 'l', 'o'), frame("DONE", 0)))
	f.Add(true, true, cat([]byte("STA2"), stat2(0, 0o040755, 4096), dent2("."), dent2("IMG_1.jpg"), frame("DONE", 0), frame("DATA", 3, 'a', 'b', 'c'), frame("DATA", 0), frame("DONE", 0), []byte("STA2"), stat2(2, 0, 0)))
	f.Add(true, false, cat([]byte("STA2"), stat2(13, 0, 0), frame("FAIL", 9, []byte("forbidden")...), frame("FAIL", 25, []byte("No such file or directory")...)))
	f.Add(false, true, cat(frame("STAT", 0), frame("DNT2", 0xffffffff), frame("DATA", 0xffffffff)))
	f.Add(false, false, cat(frame("STAT", 0o100644, 5, 0, 0, 0, 0, 0, 0, 0), frame("DENT", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f), frame("FAIL", 0xfffffff0)))
	f.Fuzz(func(t *testing.T, v2, ls2 bool, data []byte) {
		if n := allocated(func() { runSync(v2, ls2, data) }); n > allocCap(data) {
			t.Errorf("a %d-byte stream made the sync session allocate %d bytes (cap %d)", len(data), n, allocCap(data))
		}
	})
}

// runHost reads what the server answers a host request: a status, a
// hex-framed payload, and a device list parsed from it.
func runHost(data []byte) {
	cn := &conn{br: bufio.NewReaderSize(bytes.NewReader(data), 256<<10)}
	if err := cn.status("host:devices-l"); err != nil {
		var fe *FailError
		if errors.As(err, &fe) && len(fe.Message) > 0xffff {
			panic("FAIL message longer than 4 hex digits allow")
		}
		return
	}
	s, err := cn.readHex()
	if err != nil {
		return
	}
	parseDevices(s)
}

func FuzzHostFrames(f *testing.F) {
	f.Add([]byte("OKAY0050emulator-5554          device product:sdk model:Pixel_7 device:emu transport_id:1\n"))
	f.Add([]byte("OKAY003bR58M12ABC        no permissions (user in plugdev) usb:1-1\n"))
	f.Add([]byte("FAIL0014device 'x' not found"))
	f.Add([]byte("FAILffff"))
	f.Add([]byte("OKAYzzzz"))
	f.Add([]byte("OKAY0000"))
	f.Add([]byte("WHAT"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if n := allocated(func() { runHost(data) }); n > allocCap(data)+256<<10 {
			t.Errorf("a %d-byte answer made the host client allocate %d bytes", len(data), n)
		}
	})
}

// v2 builds a shell v2 packet.
func v2(id byte, payload string) []byte {
	b := []byte{id}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func FuzzShellV2(f *testing.F) {
	f.Add(cat(v2(v2Stdout, "_id=1, address=+4915112345678\n"), v2(v2Stderr, "warning\n"), v2(v2Exit, "\x00")))
	f.Add(cat(v2(v2Stdout, "partial"), v2(v2Exit, "\x01")))
	f.Add(cat(v2(9, "unknown id"), v2(v2Exit, "")))
	f.Add([]byte{v2Stdout, 0xff, 0xff, 0xff, 0xff, 'x'})
	f.Add([]byte{v2Stderr, 0xff, 0xff, 0xff, 0x7f, 'x'})
	f.Add([]byte{v2Exit, 0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := allocated(func() {
			p := &Proc{rc: sink{}, br: bufio.NewReaderSize(bytes.NewReader(data), 64<<10), v2: true, exit: -1}
			out, _ := io.Copy(io.Discard, p)
			if out > int64(len(data)) {
				panic("more stdout than bytes sent")
			}
			if len(p.Stderr()) > maxStderr {
				panic("stderr kept beyond its cap")
			}
			if c := p.ExitCode(); c < -1 || c > 255 {
				panic("exit code out of range")
			}
		})
		if n > allocCap(data) {
			t.Errorf("a %d-byte stream made the shell reader allocate %d bytes", len(data), n)
		}
	})
}
