// Package config reads miexit's config file: TOML with defaults for
// command-line flags, at the top level for every command and in one table
// per command ([migrate], [backup], [auth.google]) for that command only.
// It knows nothing of the commands; the CLI checks the keys against its
// flags and applies them.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/miexit/miexit/internal/statedir"
	"github.com/miexit/miexit/mapping"
)

// FileName is the config file inside the config dir.
const FileName = "config.toml"

// maxSize bounds what is read: a config file is a few lines.
const maxSize = 1 << 20

// DefaultPath is <config dir>/config.toml (statedir.Config(), which honours
// MIEXIT_CONFIG_DIR).
func DefaultPath() string { return filepath.Join(statedir.Config(), FileName) }

// Value is one key's value and where it was set.
type Value struct {
	Key string
	// Section is the command path of its table ("migrate", "auth google"),
	// "" at the top level.
	Section string
	Raw     any
}

// Where says where the value sits in the file, for messages.
func (v Value) Where() string {
	if v.Section == "" {
		return "at the top level"
	}
	return "in [" + strings.ReplaceAll(v.Section, " ", ".") + "]"
}

// File is a parsed config file.
type File struct {
	Path string
	// Top holds the top-level keys; Sections the tables, by command path.
	Top      map[string]Value
	Sections map[string]map[string]Value
}

// Load reads the config file at path. A missing file is no error when
// optional (the default path), and gives an empty File. A malformed file is
// an error naming the file and line.
func Load(path string, optional bool) (*File, error) {
	f := &File{Path: path, Top: map[string]Value{}, Sections: map[string]map[string]Value{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && optional {
		return f, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: config file %s does not exist: create it, or name another with --config", mapping.ErrBadInput, path)
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("%w: config file %s is %d bytes; a config file is a few lines of TOML (is this the right file?)", mapping.ErrBadInput, path, len(b))
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: config file %s line %d: %s; fix it or move it away", mapping.ErrBadInput, path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: config file %s: %v", mapping.ErrBadInput, path, err)
	}
	f.add("", m)
	return f, nil
}

// add files the keys of one table; nested tables are subcommands.
func (f *File) add(section string, m map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			name := strings.TrimSpace(section + " " + k)
			if f.Sections[name] == nil {
				f.Sections[name] = map[string]Value{}
			}
			f.add(name, sub)
			continue
		}
		val := Value{Key: k, Section: section, Raw: v}
		if section == "" {
			f.Top[k] = val
		} else {
			f.Sections[section][k] = val
		}
	}
}

// For returns the values that apply to the command at path ("migrate",
// "auth google"), most specific first: its own table, its parents' tables,
// then the top level. A key appears once, from the most specific place.
func (f *File) For(path string) []Value {
	var out []Value
	seen := map[string]bool{}
	take := func(vals map[string]Value) {
		for _, k := range sortedKeys(vals) {
			if !seen[k] {
				seen[k] = true
				out = append(out, vals[k])
			}
		}
	}
	for p := path; p != ""; {
		take(f.Sections[p])
		i := strings.LastIndex(p, " ")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	take(f.Top)
	return out
}

// Strings turns a value into the text(s) a flag's Set accepts: one for a
// scalar, one per element for an array.
func (v Value) Strings() ([]string, error) {
	switch x := v.Raw.(type) {
	case string:
		return []string{x}, nil
	case int64, bool, float64:
		return []string{fmt.Sprint(x)}, nil
	case []any:
		var out []string
		for _, e := range x {
			s, err := Value{Key: v.Key, Section: v.Section, Raw: e}.Strings()
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %T is no flag value", v.Raw)
}

func sortedKeys(m map[string]Value) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
