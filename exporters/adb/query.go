package adb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/miexit/miexit/exporters/adb/provider"
	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/ordered"
)

// deniedError is a provider refusing the shell user.
type deniedError struct{ err *provider.Error }

func (d *deniedError) Error() string {
	return d.err.Error() + " (the phone refuses this to ADB: make a MIUI local backup in Settings > About phone > Back up and restore, copy it to the computer, and use --from archive:PATH)"
}

func (d *deniedError) Unwrap() error { return d.err }

func wrapProvider(err error) error {
	var pe *provider.Error
	if errors.As(err, &pe) && pe.Denied {
		return &deniedError{pe}
	}
	return err
}

// run starts `content` with args and feeds its stdout to read. A provider
// error printed on stderr (shell v2) is returned too.
func (e *Exporter) run(ctx context.Context, uri string, args []string, read func(io.Reader) error) error {
	p, err := e.dev.Start(ctx, adb.Command(args...))
	if err != nil {
		return err
	}
	defer p.Close()
	rerr := read(p)
	if rerr != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return wrapProvider(rerr)
	}
	// Drain so the exit status and stderr arrive.
	if _, err := io.Copy(io.Discard, p); err != nil {
		return fmt.Errorf("content query %s: %w", uri, err)
	}
	if err := provider.CheckError(uri, p.Stderr()); err != nil {
		return wrapProvider(err)
	}
	if p.ExitCode() > 0 {
		return fmt.Errorf("content query %s: exit status %d: %s", uri, p.ExitCode(), strings.TrimSpace(p.Stderr()))
	}
	return nil
}

func safeColumns(cols []string) bool {
	for _, c := range cols {
		if !provider.Numeric[c] && !(strings.HasPrefix(c, "hex(") && strings.HasSuffix(c, ")")) {
			return false
		}
	}
	return true
}

// ids lists the _id values of uri (sorted), as the cross-check for
// splitting rows.
func (e *Exporter) ids(ctx context.Context, uri, where string) ([]int64, error) {
	q := provider.Query{URI: uri, Columns: []string{"_id"}, Where: where, Sort: "_id ASC"}
	var ids []int64
	err := e.run(ctx, uri, q.Args(), func(r io.Reader) error {
		var err error
		ids, err = provider.ParseIDs(r, uri)
		return err
	})
	return ids, err
}

// query reads every row of q and calls fn in _id order. Columns that are
// all numbers or hex() are read in one pass; otherwise rows are split on
// the headers the _id list predicts, and rows that stay ambiguous are read
// alone. q.Columns[0] must be "_id".
func (e *Exporter) query(ctx context.Context, q provider.Query, fn func(provider.Row) error) error {
	if len(q.Columns) == 0 || q.Columns[0] != "_id" {
		return fmt.Errorf("content query %s: projection must start with _id", q.URI)
	}
	q.Sort = "_id ASC"
	if safeColumns(q.Columns) {
		return e.run(ctx, q.URI, q.Args(), func(r io.Reader) error {
			for row, err := range ordered.Ahead(ctx, provider.Parse(r, q.URI, q.Columns, nil), prefetchBatch, prefetchDepth) {
				if err != nil {
					return err
				}
				if row.Ambiguous {
					return fmt.Errorf("content query %s: row %d unreadable: %w", q.URI, row.Index, provider.ErrOutput)
				}
				if err := fn(row); err != nil {
					return err
				}
			}
			return nil
		})
	}
	ids, err := e.ids(ctx, q.URI, q.Where)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	done := 0 // rows delivered, in ids order
	err = e.run(ctx, q.URI, q.Args(), func(r io.Reader) error {
		for row, err := range ordered.Ahead(ctx, provider.Parse(r, q.URI, q.Columns, ids), prefetchBatch, prefetchDepth) {
			if err != nil {
				return err
			}
			if row.Ambiguous {
				e.log.Debug("ambiguous row, reading it alone", "uri", q.URI, "id", ids[row.Index])
				row, err = e.rowAlone(ctx, q, ids[row.Index])
				if err != nil {
					return err
				}
			}
			if err := fn(row); err != nil {
				return err
			}
			done++
		}
		return nil
	})
	if err == nil || !errors.Is(err, provider.ErrOutput) && !errors.Is(err, provider.ErrResync) {
		return err
	}
	e.log.Warn("content output could not be split; reading the remaining rows one by one", "uri", q.URI, "rows_left", len(ids)-done, "err", err)
	for _, id := range ids[done:] {
		row, err := e.rowAlone(ctx, q, id)
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

var errGone = errors.New("row no longer exists")

func (e *Exporter) output(ctx context.Context, uri string, args []string) (string, error) {
	var out []byte
	err := e.run(ctx, uri, args, func(r io.Reader) error {
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(r, provider.MaxRowBytes)); err != nil {
			return err
		}
		out = buf.Bytes()
		return provider.CheckError(uri, buf.String())
	})
	return string(out), err
}

// rowAlone reads one row by _id: whole, and when that is still ambiguous,
// column by column, which is exact whatever the values hold.
func (e *Exporter) rowAlone(ctx context.Context, q provider.Query, id int64) (provider.Row, error) {
	where := "_id=" + strconv.FormatInt(id, 10)
	one := provider.Query{URI: q.URI, Columns: q.Columns, Where: where}
	out, err := e.output(ctx, q.URI, one.Args())
	if err != nil {
		return provider.Row{}, err
	}
	for row, err := range provider.Parse(strings.NewReader(out), q.URI, q.Columns, []int64{id}) {
		if err == nil && !row.Ambiguous {
			return row, nil
		}
		break
	}
	if strings.HasPrefix(out, "No result found.") {
		return provider.Row{}, errGone
	}
	row := provider.Row{ID: id, Values: make([]string, len(q.Columns)), Null: make([]bool, len(q.Columns))}
	for j, c := range q.Columns {
		col := provider.Query{URI: q.URI, Columns: []string{c}, Where: where}
		out, err := e.output(ctx, q.URI, col.Args())
		if err != nil {
			return row, err
		}
		v, found, err := provider.ParseOne(out, q.URI, c)
		if err != nil {
			return row, err
		}
		if !found {
			return row, errGone
		}
		row.Values[j] = v
		if v == "NULL" && !strings.HasPrefix(c, "hex(") {
			// A real null and the text "NULL" print alike: ask SQL.
			isNull := provider.Query{URI: q.URI, Columns: []string{"_id"}, Where: where + " AND " + c + " IS NULL"}
			out, err := e.output(ctx, q.URI, isNull.Args())
			if err != nil {
				return row, err
			}
			row.Null[j] = !strings.HasPrefix(out, "No result found.")
		}
	}
	return row, nil
}

// count is the number of rows of uri.
func (e *Exporter) count(ctx context.Context, uri, where string) (int, error) {
	ids, err := e.ids(ctx, uri, where)
	return len(ids), err
}

// Rows parsed ahead of the caller, in batches, so that parsing the phone's
// text and writing the snapshot run on two cores instead of taking turns.
const (
	prefetchBatch = 256
	prefetchDepth = 4
)
