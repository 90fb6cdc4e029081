package miui

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/miexit/miexit/mapping"
)

// Descript is a backup folder's descript.xml: the device and, per .bak
// file, its package and feature. Values may be child elements or
// attributes depending on the MIUI version; both are read.
type Descript struct {
	Device      string
	MIUIVersion string
	Date        time.Time
	Size        int64
	Packages    []DescriptPackage
}

// DescriptPackage is one <package> row.
type DescriptPackage struct {
	PackageName string
	Feature     int
	BakFile     string
	BakType     string
	State       string
	// User is the Android user when the row names one (userId).
	User int
	// Fields holds every value of the row, known or not.
	Fields map[string]string
}

const maxDescript = 16 << 20

// ParseDescript reads descript.xml. It reads at most 16 MiB.
func ParseDescript(r io.Reader) (*Descript, error) {
	dec := xml.NewDecoder(io.LimitReader(r, maxDescript))
	dec.Strict = false
	d := &Descript{}
	var stack []string
	var row map[string]string
	var text strings.Builder
	sawRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: descript.xml: %v", mapping.ErrBadInput, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				if name != "MIUI-backup" {
					return nil, fmt.Errorf("%w: descript.xml: root element is <%s>, not <MIUI-backup>", mapping.ErrBadInput, name)
				}
				sawRoot = true
				for _, a := range t.Attr {
					d.set(a.Name.Local, a.Value)
				}
			}
			if name == "package" && row == nil {
				row = map[string]string{}
				for _, a := range t.Attr {
					row[a.Name.Local] = a.Value
				}
			}
			stack = append(stack, name)
			text.Reset()
			if len(stack) > 64 {
				return nil, fmt.Errorf("%w: descript.xml nests too deep", mapping.ErrBadInput)
			}
		case xml.CharData:
			if text.Len() < 1<<20 {
				text.Write(t)
			}
		case xml.EndElement:
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			v := strings.TrimSpace(text.String())
			text.Reset()
			switch {
			case name == "package" && row != nil:
				d.Packages = append(d.Packages, packageRow(row))
				row = nil
			case row != nil:
				row[name] = v
			case len(stack) == 1:
				d.set(name, v)
			}
		}
	}
	if !sawRoot {
		return nil, fmt.Errorf("%w: descript.xml has no <MIUI-backup> element", mapping.ErrBadInput)
	}
	return d, nil
}

func (d *Descript) set(k, v string) {
	switch k {
	case "device":
		d.Device = v
	case "miuiVersion":
		d.MIUIVersion = v
	case "date":
		if n, ok := parseInt(v); ok && n > 0 {
			d.Date = time.UnixMilli(n).UTC()
		}
	case "size":
		d.Size, _ = parseInt(v)
	}
}

func packageRow(m map[string]string) DescriptPackage {
	p := DescriptPackage{PackageName: m["packageName"], BakFile: m["bakFile"], BakType: m["bakType"], State: m["state"], Fields: m, Feature: -1}
	if n, ok := parseInt(m["feature"]); ok {
		p.Feature = int(n)
	}
	for _, k := range []string{"userId", "user", "userID"} {
		if n, ok := parseInt(m[k]); ok {
			p.User = int(n)
		}
	}
	return p
}
