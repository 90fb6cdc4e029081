package adbtest

import (
	"bufio"
	"encoding/binary"
	"io"
	"io/fs"
	"time"
)

func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	switch {
	case m.IsDir():
		u |= 0o040000
	case m&fs.ModeSymlink != 0:
		u |= 0o120000
	default:
		u |= 0o100000
	}
	return u
}

// serveSync speaks the device side of the file service.
func (d *Device) serveSync(s stream) {
	br := bufio.NewReaderSize(s, 64<<10)
	// Replies are gathered so one transport message carries many of them,
	// as adbd does.
	bw := bufio.NewWriterSize(s, 1<<20)
	le := binary.LittleEndian
	v2 := d.has("stat_v2")
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := le.Uint32(hdr[4:])
		if n > 4096 {
			fail(bw, "path too long")
			bw.Flush()
			return
		}
		pb := make([]byte, n)
		if _, err := io.ReadFull(br, pb); err != nil {
			return
		}
		path := string(pb)
		node := d.Files.Lookup(path)
		switch string(hdr[:4]) {
		case "STAT":
			var b [16]byte
			copy(b[:], "STAT")
			// lstat: a symlink is reported as itself.
			if node != nil {
				le.PutUint32(b[4:], unixMode(node.Mode))
				le.PutUint32(b[8:], uint32(node.Size))
				le.PutUint32(b[12:], uint32(node.ModTime.Unix()))
			}
			bw.Write(b[:])
		case "STA2", "LST2":
			if !v2 {
				return
			}
			b := make([]byte, 72)
			copy(b, hdr[:4])
			putStat2(b[4:], node)
			bw.Write(b)
		case "LIST", "LIS2":
			ls2 := string(hdr[:4]) == "LIS2"
			if ls2 && !d.has("ls_v2") {
				return
			}
			if node != nil && node.Mode.IsDir() {
				ents := append([]*Node{{Name: ".", Mode: node.Mode, ModTime: node.ModTime}, {Name: "..", Mode: node.Mode, ModTime: node.ModTime}}, d.Files.Children(node)...)
				for _, c := range ents {
					if ls2 {
						b := make([]byte, 76)
						copy(b, "DNT2")
						putStat2(b[4:], c)
						le.PutUint32(b[72:], uint32(len(c.Name)))
						bw.Write(b)
					} else {
						var b [20]byte
						copy(b[:], "DENT")
						le.PutUint32(b[4:], unixMode(c.Mode))
						le.PutUint32(b[8:], uint32(c.Size))
						le.PutUint32(b[12:], uint32(c.ModTime.Unix()))
						le.PutUint32(b[16:], uint32(len(c.Name)))
						bw.Write(b[:])
					}
					bw.WriteString(c.Name)
				}
			}
			if ls2 {
				b := make([]byte, 76)
				copy(b, "DONE")
				bw.Write(b)
			} else {
				var b [20]byte
				copy(b[:], "DONE")
				bw.Write(b[:])
			}
		case "RECV":
			switch {
			case node == nil:
				fail(bw, "No such file or directory")
			case node.Mode.IsDir():
				fail(bw, "Is a directory")
			case node.Unreadable:
				fail(bw, "Permission denied")
			default:
				if d.RecvDelay != nil {
					time.Sleep(d.RecvDelay(path))
				}
				if !d.send(bw, node) {
					d.Aborted.Add(1)
					return
				}
				d.Received.Add(1)
			}
		case "QUIT":
			bw.Flush()
			return
		default:
			fail(bw, "unknown sync command")
			bw.Flush()
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

func putStat2(b []byte, n *Node) {
	le := binary.LittleEndian
	if n == nil {
		le.PutUint32(b[0:], 2) // ENOENT
		return
	}
	le.PutUint64(b[12:], 1) // ino
	le.PutUint32(b[20:], unixMode(n.Mode))
	le.PutUint32(b[24:], 1) // nlink
	le.PutUint32(b[28:], 1023)
	le.PutUint32(b[32:], 1023)
	le.PutUint64(b[36:], uint64(n.Size))
	le.PutUint64(b[44:], uint64(n.ModTime.Unix()))
	le.PutUint64(b[52:], uint64(n.ModTime.Unix()))
	le.PutUint64(b[60:], uint64(n.ModTime.Unix()))
}

func fail(w io.Writer, msg string) {
	b := make([]byte, 8+len(msg))
	copy(b, "FAIL")
	binary.LittleEndian.PutUint32(b[4:], uint32(len(msg)))
	copy(b[8:], msg)
	w.Write(b)
}

// send writes a file as DATA chunks of at most 64 KiB and a DONE.
func (d *Device) send(w *bufio.Writer, n *Node) bool {
	r := n.Open()
	buf := make([]byte, 8+64<<10)
	for {
		k, err := io.ReadFull(r, buf[8:])
		if k > 0 {
			copy(buf, "DATA")
			binary.LittleEndian.PutUint32(buf[4:], uint32(k))
			if _, werr := w.Write(buf[:8+k]); werr != nil {
				return false
			}
		}
		if err != nil {
			break
		}
	}
	var done [8]byte
	copy(done[:], "DONE")
	binary.LittleEndian.PutUint32(done[4:], uint32(n.ModTime.Unix()))
	_, err := w.Write(done[:])
	return err == nil
}
