// Package provider reads what Android's `content query` tool prints.
//
// The tool prints one `Row: N col=value, col=value` line per row and
// escapes nothing, so a value holding ", ", "=" or a newline makes the
// output ambiguous. This package never guesses: it splits rows only at the
// headers it expects (row number and _id from an earlier _id-only query),
// splits columns only where each separator occurs exactly once, decodes
// hex(col) projections, and marks every row it cannot split with certainty
// as Ambiguous so the caller can ask for that row alone.
package provider

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
)

// MaxRowBytes bounds one row's text; longer is treated as corrupt output.
const MaxRowBytes = 32 << 20

// window is how many rows are held back so that a header forged inside a
// value, detected later, can still mark the rows it cut as ambiguous.
const window = 512

// Query is one `content query` invocation.
type Query struct {
	URI string
	// Columns is the projection. hex(col) columns are decoded. For output
	// with free text, Columns[0] must be "_id" and Sort "_id ASC".
	Columns []string
	Where   string
	Sort    string
}

// Args are the device command's arguments.
func (q Query) Args() []string {
	a := []string{"content", "query", "--uri", q.URI}
	if len(q.Columns) > 0 {
		a = append(a, "--projection", strings.Join(q.Columns, ":"))
	}
	if q.Where != "" {
		a = append(a, "--where", q.Where)
	}
	if q.Sort != "" {
		a = append(a, "--sort", q.Sort)
	}
	return a
}

// Row is one parsed row. Values line up with the query's Columns.
type Row struct {
	Index int
	ID    int64 // when Columns[0] is _id
	// Values are the printed text (hex columns decoded).
	Values []string
	// Null marks values printed as NULL: a real null, or the text "NULL"
	// (the tool prints both the same way).
	Null []bool
	// Ambiguous rows could not be split with certainty; Values are then
	// unreliable and the row must be read alone.
	Ambiguous bool
}

// Get returns the value of column c ("" when absent or null).
func (r Row) Get(cols []string, c string) string {
	for i, x := range cols {
		if x == c && i < len(r.Values) && !r.Null[i] {
			return r.Values[i]
		}
	}
	return ""
}

// Error is a provider's refusal or failure, as the tool prints it.
type Error struct {
	URI     string
	Message string
	// Denied is a SecurityException: the shell user may not read it.
	Denied bool
}

func (e *Error) Error() string {
	msg := e.Message
	if i := strings.IndexByte(msg, '\n'); i >= 0 && i < len(msg)-1 {
		// The first Java line says it; the stack trace does not help.
		j := strings.IndexByte(msg[i+1:], '\n')
		if j >= 0 {
			msg = msg[:i+1+j]
		}
	}
	return fmt.Sprintf("content query %s: %s", e.URI, strings.ReplaceAll(strings.TrimSpace(msg), "\n", ": "))
}

const errPrefix = "Error while accessing provider:"

// CheckError returns an *Error when out (stdout or stderr of the tool)
// reports one.
func CheckError(uri, out string) error {
	i := strings.Index(out, errPrefix)
	if i < 0 {
		return nil
	}
	msg := out[i:]
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	return &Error{URI: uri, Message: msg, Denied: strings.Contains(msg, "SecurityException") || strings.Contains(msg, "Permission Denial")}
}

// ErrOutput is output that is not what the tool prints.
var ErrOutput = errors.New("unexpected content query output")

// ErrResync means a forged row header reached further back than the rows
// held: the caller must read the remaining rows one by one.
var ErrResync = errors.New("content query output too ambiguous to split")

// header is the start of row i's line: "Row: i col0=" and, when the id is
// known, "Row: i _id=ID" followed by ", " or the end of the line.
func header(i int, cols []string, ids []int64) string {
	h := "Row: " + strconv.Itoa(i) + " " + cols[0] + "="
	if ids != nil {
		h += strconv.FormatInt(ids[i], 10)
	}
	return h
}

func isHeader(line string, i int, cols []string, ids []int64) bool {
	if ids != nil && i >= len(ids) {
		return false
	}
	h := header(i, cols, ids)
	if !strings.HasPrefix(line, h) {
		return false
	}
	rest := line[len(h):]
	if ids == nil {
		return true
	}
	return strings.HasPrefix(rest, ", ") || rest == "\n" || rest == ""
}

// Parse reads `content query` output for cols. ids, when not nil, are the
// _id values the rows must have, in order (from an _id-only query sorted
// the same way); rows are then split only at their exact headers and the
// count is checked. A provider error is returned as *Error.
func Parse(r io.Reader, uri string, cols []string, ids []int64) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		if len(cols) == 0 {
			yield(Row{}, fmt.Errorf("content query %s: no columns", uri))
			return
		}
		br := bufio.NewReaderSize(r, 64<<10)
		var (
			pending []Row // held back, oldest first
			cur     strings.Builder
			curIdx  = -1
			dup     = -1 // lowest row index whose header appeared twice in the current row
			started bool
		)
		flushRow := func() error {
			if curIdx < 0 {
				return nil
			}
			text := strings.TrimSuffix(cur.String(), "\n")
			row := splitRow(curIdx, text[len("Row: "+strconv.Itoa(curIdx)+" "):], cols)
			if dup >= 0 {
				row.Ambiguous = true
				first := dup - 1
				if len(pending) > 0 && first < pending[0].Index {
					return ErrResync
				}
				for k := range pending {
					if pending[k].Index >= first {
						pending[k].Ambiguous = true
					}
				}
			}
			pending = append(pending, row)
			cur.Reset()
			dup = -1
			return nil
		}
		emit := func(keep int) bool {
			for len(pending) > keep {
				if !yield(pending[0], nil) {
					return false
				}
				pending = pending[1:]
			}
			return true
		}
		next := 0
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				switch {
				case isHeader(line, next, cols, ids):
					if err := flushRow(); err != nil {
						yield(Row{}, fmt.Errorf("content query %s: %w", uri, err))
						return
					}
					if !emit(window) {
						return
					}
					curIdx = next
					next++
					started = true
					cur.WriteString(line)
				case curIdx >= 0:
					if ids != nil && strings.HasPrefix(line, "Row: ") {
						// A header of a row already passed: the earlier split
						// there was forged by a value.
						for m := 0; m < next && m < len(ids); m++ {
							if isHeader(line, m, cols, ids) && (dup < 0 || m < dup) {
								dup = m
							}
						}
					}
					if cur.Len()+len(line) > MaxRowBytes {
						yield(Row{}, fmt.Errorf("content query %s: row %d over %d bytes: %w", uri, curIdx, MaxRowBytes, ErrOutput))
						return
					}
					cur.WriteString(line)
				case !started && strings.HasPrefix(line, "No result found."):
					started = true
				case !started && strings.HasPrefix(line, errPrefix):
					rest, _ := io.ReadAll(io.LimitReader(br, 4096))
					yield(Row{}, CheckError(uri, line+string(rest)))
					return
				default:
					yield(Row{}, fmt.Errorf("content query %s: line %q: %w", uri, clip(line), ErrOutput))
					return
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				yield(Row{}, fmt.Errorf("content query %s: %w", uri, err))
				return
			}
		}
		if err := flushRow(); err != nil {
			yield(Row{}, fmt.Errorf("content query %s: %w", uri, err))
			return
		}
		if !emit(0) {
			return
		}
		if ids != nil && next != len(ids) {
			yield(Row{}, fmt.Errorf("content query %s: %d rows, expected %d (the data changed meanwhile?): %w", uri, next, len(ids), ErrOutput))
		}
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// splitRow splits one row's text (after "Row: N ") into cols. Each
// separator ", col=" must occur exactly once, else the row is ambiguous.
func splitRow(idx int, text string, cols []string) Row {
	row := Row{Index: idx, Values: make([]string, len(cols)), Null: make([]bool, len(cols))}
	if !strings.HasPrefix(text, cols[0]+"=") {
		row.Ambiguous = true
		return row
	}
	starts := make([]int, len(cols))
	starts[0] = len(cols[0]) + 1
	ends := make([]int, len(cols))
	for j := 1; j < len(cols); j++ {
		sep := ", " + cols[j] + "="
		prev := text[starts[j-1]:]
		at := strings.Index(prev, sep)
		if at < 0 {
			row.Ambiguous = true
			return row
		}
		if !safe(cols[j-1]) && strings.Count(prev, sep) != 1 {
			// A free-text value may hold the separator: only a unique
			// one is certainly the real one.
			row.Ambiguous = true
			return row
		}
		if safe(cols[j-1]) && !plain(cols[j-1], prev[:at]) {
			row.Ambiguous = true
			return row
		}
		ends[j-1] = starts[j-1] + at
		starts[j] = ends[j-1] + len(sep)
	}
	ends[len(cols)-1] = len(text)
	for j, c := range cols {
		v := text[starts[j]:ends[j]]
		if name, ok := hexName(c); ok {
			b, err := hex.DecodeString(v)
			if err != nil {
				_ = name
				row.Ambiguous = true
				return row
			}
			row.Values[j] = string(b)
			continue
		}
		if v == "NULL" {
			row.Null[j] = true
		}
		row.Values[j] = v
	}
	if cols[0] == "_id" {
		id, err := strconv.ParseInt(row.Values[0], 10, 64)
		if err != nil {
			row.Ambiguous = true
			return row
		}
		row.ID = id
	}
	return row
}

// Numeric are the columns the providers store as integers: their printed
// values never hold ", ", so the first separator after one is the real one.
var Numeric = map[string]bool{
	"_id": true, "thread_id": true, "date": true, "date_sent": true, "type": true, "read": true,
	"status": true, "locked": true, "sub_id": true, "error_code": true, "seen": true,
	"msg_box": true, "m_type": true, "mid": true, "seq": true, "chset": true, "charset": true, "msg_id": true,
	"duration": true, "raw_contact_id": true, "contact_id": true, "is_primary": true, "is_super_primary": true,
	"deleted": true, "starred": true, "times_contacted": true, "last_time_contacted": true, "photo_id": true,
	"data_version": true, "new": true, "features": true, "presentation": true,
}

func safe(c string) bool {
	_, h := hexName(c)
	return h || Numeric[c]
}

// plain checks a value of a safe column: digits or NULL, or hex digits.
func plain(c, v string) bool {
	if v == "NULL" {
		return true
	}
	if _, h := hexName(c); h {
		_, err := hex.DecodeString(v)
		return err == nil
	}
	if strings.HasPrefix(v, "-") {
		v = v[1:]
	}
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

func hexName(c string) (string, bool) {
	if len(c) > 5 && strings.EqualFold(c[:4], "hex(") && c[len(c)-1] == ')' {
		return c[4 : len(c)-1], true
	}
	return c, false
}

// ParseIDs reads the output of a query whose projection is only _id.
func ParseIDs(r io.Reader, uri string) ([]int64, error) {
	var ids []int64
	for row, err := range Parse(r, uri, []string{"_id"}, nil) {
		if err != nil {
			return nil, err
		}
		if row.Ambiguous {
			return nil, fmt.Errorf("content query %s: row %d: %w", uri, row.Index, ErrOutput)
		}
		ids = append(ids, row.ID)
	}
	return ids, nil
}

// ParseOne reads the output of a query for one column of one row: the
// value is everything between "Row: 0 col=" and the final newline, so it
// is exact whatever it holds. found is false for "No result found.".
func ParseOne(out, uri, col string) (value string, found bool, err error) {
	if strings.HasPrefix(out, "No result found.") {
		return "", false, nil
	}
	if e := CheckError(uri, out); e != nil && !strings.HasPrefix(out, "Row: 0 ") {
		return "", false, e
	}
	h := "Row: 0 " + col + "="
	if !strings.HasPrefix(out, h) || !strings.HasSuffix(out, "\n") {
		return "", false, fmt.Errorf("content query %s: %q: %w", uri, clip(out), ErrOutput)
	}
	v := out[len(h) : len(out)-1]
	if _, ok := hexName(col); ok {
		b, err := hex.DecodeString(v)
		if err != nil {
			return "", false, fmt.Errorf("content query %s: %w: %w", uri, err, ErrOutput)
		}
		v = string(b)
	}
	return v, true, nil
}
