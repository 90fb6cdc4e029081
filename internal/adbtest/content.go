package adbtest

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Table is one content provider URI's rows. Values are nil (SQL NULL),
// string, int64 or []byte (a BLOB).
type Table struct {
	Columns []string
	Rows    [][]any
	// Functions lets projections hold SQL functions such as hex(body), as
	// the SMS and MMS providers do; the contacts provider refuses them.
	Functions bool
	// Denied makes every query fail with a SecurityException, as a
	// provider refusing the shell user does.
	Denied bool
	// Authority names the provider in error messages ("sms").
	Authority string
}

// Providers holds the fake device's content providers by URI.
type Providers struct {
	mu     sync.RWMutex
	tables map[string]*Table
	// Files are what `content read --uri` returns, by URI.
	files map[string][]byte
	// Queries counts `content` invocations, for tests of fallbacks.
	Queries int
}

// NewProviders returns an empty set.
func NewProviders() *Providers {
	return &Providers{tables: map[string]*Table{}, files: map[string][]byte{}}
}

// Set installs a table at uri ("content://sms").
func (p *Providers) Set(uri string, t *Table) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tables[uri] = t
}

// providerColumns are the columns the ADB exporter asks of any provider;
// an empty table must hold them for a query to succeed.
var providerColumns = []string{"_id", "deleted", "title", "system_id", "account_type", "raw_contact_id", "contact_id", "is_primary", "mimetype",
	"data1", "data2", "data3", "data4", "data5", "data6", "data7", "data8", "data9", "data10", "data11", "data12", "data13", "data14", "data15",
	"thread_id", "date", "date_sent", "type", "read", "status", "locked", "sub_id", "address", "subject", "service_center", "body",
	"msg_box", "m_type", "sub", "ct_t", "mid", "seq", "chset", "ct", "name", "cid", "cl", "text", "_data",
	"msg_id", "charset", "duration", "subscription_id", "number"}

// SetEmpty gives the phone every provider the ADB exporter reads, with no
// rows: a phone with files only.
func (p *Providers) SetEmpty() {
	for _, u := range []string{"content://com.android.contacts/raw_contacts", "content://com.android.contacts/groups",
		"content://com.android.contacts/data", "content://sms", "content://mms", "content://mms/part", "content://mms/addr",
		"content://call_log/calls"} {
		p.Set(u, &Table{Columns: providerColumns, Functions: true})
	}
}

// Table returns the table at uri, nil if none.
func (p *Providers) Table(uri string) *Table {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.tables[uri]
}

// SetFile installs the bytes `content read --uri uri` prints.
func (p *Providers) SetFile(uri string, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files[uri] = b
}

var mmsAddrURI = regexp.MustCompile(`^content://mms/(\d+)/addr$`)

// runContent implements Android's `content` tool for query and read.
func (p *Providers) runContent(args []string, stdout, stderr io.Writer) int {
	p.mu.Lock()
	p.Queries++
	p.mu.Unlock()
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: content [subcommand] [options]")
		return 1
	}
	opts := map[string]string{}
	for i := 1; i < len(args); i++ {
		if strings.HasPrefix(args[i], "--") && i+1 < len(args) {
			opts[args[i][2:]] = args[i+1]
			i++
		} else {
			fmt.Fprintf(stderr, "Error: Unsupported argument: %s\n", args[i])
			return 1
		}
	}
	uri := opts["uri"]
	if uri == "" {
		fmt.Fprintln(stderr, "Error: Content provider URI not specified")
		return 1
	}
	switch args[0] {
	case "read":
		p.mu.RLock()
		b, ok := p.files[uri]
		p.mu.RUnlock()
		if !ok {
			fmt.Fprintf(stderr, "Error while accessing provider:%s\njava.io.FileNotFoundException: No files supported by provider at %s\n", authority(uri), uri)
			return 0
		}
		stdout.Write(b)
		return 0
	case "query":
	default:
		fmt.Fprintf(stderr, "Error: Unsupported operation: %s\n", args[0])
		return 1
	}
	t := p.Table(uri)
	var filter func([]any, []string) bool
	if t == nil {
		if m := mmsAddrURI.FindStringSubmatch(uri); m != nil {
			t = p.Table("content://mms/addr")
			id, _ := strconv.ParseInt(m[1], 10, 64)
			filter = func(row []any, cols []string) bool { return valueOf(row, cols, "msg_id") == id }
		}
	}
	if t == nil {
		fmt.Fprintf(stderr, "Error while accessing provider:%s\njava.lang.IllegalArgumentException: Unknown URI %s\n", authority(uri), uri)
		return 0
	}
	if t.Denied {
		fmt.Fprintf(stderr, "Error while accessing provider:%s\njava.lang.SecurityException: Permission Denial: reading %s uri %s from pid=4242, uid=2000 requires android.permission.READ_SMS, or grantUriPermission()\n", authority(uri), t.Authority, uri)
		return 0
	}
	proj := t.Columns
	if s, ok := opts["projection"]; ok {
		proj = strings.Split(s, ":")
	}
	type colFn struct {
		idx int
		hex bool
	}
	var cols []colFn
	for _, c := range proj {
		c = strings.TrimSpace(c)
		fn := false
		name := c
		if strings.HasPrefix(strings.ToLower(c), "hex(") && strings.HasSuffix(c, ")") {
			if !t.Functions {
				fmt.Fprintf(stderr, "Error while accessing provider:%s\njava.lang.IllegalArgumentException: Invalid column %s\n", authority(uri), c)
				return 0
			}
			fn, name = true, c[4:len(c)-1]
		}
		idx := indexOf(t.Columns, name)
		if idx < 0 {
			fmt.Fprintf(stderr, "Error while accessing provider:%s\nandroid.database.sqlite.SQLiteException: no such column: %s (code 1 SQLITE_ERROR)\n", authority(uri), name)
			return 0
		}
		cols = append(cols, colFn{idx, fn})
	}
	where, err := parseWhere(opts["where"], t.Columns)
	if err != nil {
		fmt.Fprintf(stderr, "Error while accessing provider:%s\nandroid.database.sqlite.SQLiteException: %v\n", authority(uri), err)
		return 0
	}
	rows := make([][]any, 0, len(t.Rows))
	for _, r := range t.Rows {
		if filter != nil && !filter(r, t.Columns) {
			continue
		}
		if where(r) {
			rows = append(rows, r)
		}
	}
	if s := opts["sort"]; s != "" {
		f := strings.Fields(s)
		idx := indexOf(t.Columns, f[0])
		if idx < 0 {
			fmt.Fprintf(stderr, "Error while accessing provider:%s\nandroid.database.sqlite.SQLiteException: no such column: %s\n", authority(uri), f[0])
			return 0
		}
		desc := len(f) > 1 && strings.EqualFold(f[1], "DESC")
		sort.SliceStable(rows, func(i, j int) bool {
			if desc {
				return less(rows[j][idx], rows[i][idx])
			}
			return less(rows[i][idx], rows[j][idx])
		})
	}
	bw := bufio.NewWriterSize(stdout, 64<<10)
	defer bw.Flush()
	if len(rows) == 0 {
		bw.WriteString("No result found.\n")
		return 0
	}
	for i, r := range rows {
		fmt.Fprintf(bw, "Row: %d ", i)
		for j, c := range cols {
			if j > 0 {
				bw.WriteString(", ")
			}
			bw.WriteString(proj[j])
			bw.WriteByte('=')
			bw.WriteString(format(r[c.idx], c.hex))
		}
		bw.WriteByte('\n')
	}
	return 0
}

// FormatRow prints one row as `content query` does, for tests of parsers.
func FormatRow(i int, cols []string, vals []any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Row: %d ", i)
	for j, c := range cols {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c)
		b.WriteByte('=')
		b.WriteString(format(vals[j], false))
	}
	b.WriteByte('\n')
	return b.String()
}

func format(v any, hexed bool) string {
	if hexed {
		switch x := v.(type) {
		case nil:
			return ""
		case string:
			return strings.ToUpper(hex.EncodeToString([]byte(x)))
		case []byte:
			return strings.ToUpper(hex.EncodeToString(x))
		case int64:
			return strings.ToUpper(hex.EncodeToString([]byte(strconv.FormatInt(x, 10))))
		}
	}
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		return "BLOB"
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return fmt.Sprint(v)
}

func authority(uri string) string {
	a := strings.TrimPrefix(uri, "content://")
	a, _, _ = strings.Cut(a, "/")
	return a
}

func indexOf(cols []string, c string) int {
	for i, x := range cols {
		if x == c {
			return i
		}
	}
	return -1
}

func valueOf(row []any, cols []string, c string) any {
	i := indexOf(cols, c)
	if i < 0 {
		return nil
	}
	if v, ok := row[i].(int); ok {
		return int64(v)
	}
	return row[i]
}

func less(a, b any) bool {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return x < y
		}
		return true
	case string:
		if y, ok := b.(string); ok {
			return x < y
		}
		return false
	case nil:
		return b != nil
	}
	return false
}

var nullRE = regexp.MustCompile(`(?i)^\s*(\w+)\s+IS\s+(NOT\s+)?NULL\s*$`)

var condRE = regexp.MustCompile(`^\s*(\w+)\s*(=|>=|<=|>|<|!=)\s*('(?:[^']|'')*'|-?\d+)\s*$`)

// parseWhere understands what miexit sends: comparisons joined by AND.
func parseWhere(w string, cols []string) (func([]any) bool, error) {
	if strings.TrimSpace(w) == "" {
		return func([]any) bool { return true }, nil
	}
	var conds []func([]any) bool
	for _, part := range regexp.MustCompile(`(?i)\s+AND\s+`).Split(w, -1) {
		if n := nullRE.FindStringSubmatch(part); n != nil {
			idx := indexOf(cols, n[1])
			if idx < 0 {
				return nil, fmt.Errorf("no such column: %s", n[1])
			}
			not := n[2] != ""
			conds = append(conds, func(r []any) bool { return (r[idx] == nil) != not })
			continue
		}
		m := condRE.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("near %q: syntax error", part)
		}
		idx := indexOf(cols, m[1])
		if idx < 0 {
			return nil, fmt.Errorf("no such column: %s", m[1])
		}
		var want any
		if strings.HasPrefix(m[3], "'") {
			want = strings.ReplaceAll(m[3][1:len(m[3])-1], "''", "'")
		} else {
			n, _ := strconv.ParseInt(m[3], 10, 64)
			want = n
		}
		op := m[2]
		conds = append(conds, func(r []any) bool {
			v := r[idx]
			if x, ok := v.(int); ok {
				v = int64(x)
			}
			if _, ok := v.([]byte); ok {
				return false
			}
			switch op {
			case "=":
				return v == want
			case "!=":
				return v != want
			case ">":
				return less(want, v)
			case "<":
				return less(v, want)
			case ">=":
				return !less(v, want)
			case "<=":
				return !less(want, v)
			}
			return false
		})
	}
	return func(r []any) bool {
		for _, c := range conds {
			if !c(r) {
				return false
			}
		}
		return true
	}, nil
}
