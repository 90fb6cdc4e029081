package miui

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/miexit/miexit/mapping"
)

// region is a protobuf message read in place from a spooled payload: the
// containers (the root, a list of messages) can be gigabytes, so they are
// walked field by field and only the records inside are loaded.
type region struct {
	ra       io.ReaderAt
	off, end int64
	where    string // for errors: "sms root", "sms root.4"
	maxRec   int64
}

// span is one field of a region: a varint's value, or where a
// length-delimited value lies.
type span struct {
	num  protowire.Number
	typ  protowire.Type
	v    uint64
	off  int64
	size int64
}

func (g region) bad(format string, a ...any) error {
	return fmt.Errorf("%w: payload %s: %s", mapping.ErrBadInput, g.where, fmt.Sprintf(format, a...))
}

func (g region) varint(off int64) (uint64, int64, error) {
	var buf [binaryMaxVarint]byte
	n := min(int64(len(buf)), g.end-off)
	if n <= 0 {
		return 0, 0, g.bad("ends inside a field at byte %d", off)
	}
	if _, err := g.ra.ReadAt(buf[:n], off); err != nil && err != io.EOF {
		return 0, 0, err
	}
	v, l := protowire.ConsumeVarint(buf[:n])
	if l < 0 {
		return 0, 0, g.bad("bad varint at byte %d", off)
	}
	return v, int64(l), nil
}

const binaryMaxVarint = 10

// each calls fn for every field of the region in order.
func (g region) each(fn func(s span) error) error {
	off := g.off
	for off < g.end {
		tag, n, err := g.varint(off)
		if err != nil {
			return err
		}
		off += n
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber || tag>>3 > math.MaxInt32 {
			return g.bad("invalid field number at byte %d", off-n)
		}
		s := span{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			if s.v, n, err = g.varint(off); err != nil {
				return err
			}
			off += n
		case protowire.Fixed32Type, protowire.Fixed64Type:
			s.size = 4
			if typ == protowire.Fixed64Type {
				s.size = 8
			}
			if g.end-off < s.size {
				return g.bad("ends inside field %d", num)
			}
			s.off = off
			off += s.size
		case protowire.BytesType:
			l, n, err := g.varint(off)
			if err != nil {
				return err
			}
			off += n
			if l > uint64(g.end-off) {
				return g.bad("field %d claims %d bytes but only %d remain", num, l, g.end-off)
			}
			s.off, s.size = off, int64(l)
			off += s.size
		default:
			// Groups are deprecated and never seen in MIUI backups.
			return g.bad("field %d has unsupported wire type %d", num, typ)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func (g region) sub(s span, name string) region {
	return region{ra: g.ra, off: s.off, end: s.off + s.size, where: g.where + "." + name, maxRec: g.maxRec}
}

// load reads one record into memory, refusing one over the limit.
func (g region) load(s span) (*rec, error) {
	if s.typ != protowire.BytesType {
		return nil, g.bad("field %d should hold a message, not wire type %d", s.num, s.typ)
	}
	if s.size > g.maxRec {
		return nil, g.bad("a record in field %d is %d bytes, over the %d limit", s.num, s.size, g.maxRec)
	}
	b := make([]byte, s.size)
	if _, err := g.ra.ReadAt(b, s.off); err != nil && !(err == io.EOF && len(b) == 0) {
		return nil, fmt.Errorf("payload %s: %w", g.where, err)
	}
	return parseRec(b)
}

// rec is one protobuf message decoded in memory without a schema. Getters
// accept a field in any wire form that can carry its value (an id may be a
// string or a varint) and mark it used; fields nobody asked for are
// reported as unknown.
type rec struct {
	fields []field
}

type field struct {
	num  protowire.Number
	typ  protowire.Type
	v    uint64
	b    []byte
	used bool
}

func parseRec(b []byte) (*rec, error) {
	r := &rec{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: %v", mapping.ErrBadInput, protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.v = uint64(v)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, fmt.Errorf("%w: field %d: %v", mapping.ErrBadInput, num, protowire.ParseError(n))
		}
		b = b[n:]
		r.fields = append(r.fields, f)
	}
	return r, nil
}

// last returns the last occurrence of a field, as protobuf merges them.
func (r *rec) last(num protowire.Number) *field {
	var out *field
	for i := range r.fields {
		if r.fields[i].num == num {
			r.fields[i].used = true
			out = &r.fields[i]
		}
	}
	return out
}

func (r *rec) str(num protowire.Number) string {
	f := r.last(num)
	switch {
	case f == nil:
		return ""
	case f.typ == protowire.BytesType:
		return string(f.b)
	case f.typ == protowire.Fixed32Type:
		return strconv.FormatInt(int64(int32(uint32(f.v))), 10)
	default:
		return strconv.FormatInt(int64(f.v), 10)
	}
}

func (r *rec) int(num protowire.Number) (int64, bool) {
	f := r.last(num)
	switch {
	case f == nil:
		return 0, false
	case f.typ == protowire.BytesType:
		return parseInt(string(f.b))
	case f.typ == protowire.Fixed32Type:
		return int64(int32(uint32(f.v))), true
	default:
		return int64(f.v), true
	}
}

func (r *rec) bool(num protowire.Number) bool {
	n, _ := r.int(num)
	if n != 0 {
		return true
	}
	return r.str(num) == "true"
}

// subs decodes every occurrence of a message field. A value that is not a
// valid message is left unused, so it is reported as unknown.
func (r *rec) subs(num protowire.Number) []*rec {
	var out []*rec
	for i := range r.fields {
		f := &r.fields[i]
		if f.num != num || f.typ != protowire.BytesType {
			continue
		}
		s, err := parseRec(f.b)
		if err != nil {
			continue
		}
		f.used = true
		out = append(out, s)
	}
	return out
}

// unknown adds the fields nobody used to counts, under where.
func (r *rec) unknown(counts map[string]int, where string) {
	for _, f := range r.fields {
		if !f.used {
			counts[where+"."+strconv.Itoa(int(f.num))]++
		}
	}
}
