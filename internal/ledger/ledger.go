// Package ledger remembers, per destination, what miexit already put there:
// item key -> content hash and remote id. It is a cache that makes re-runs
// cheap, never the truth: importers must cope with an entry that is missing
// (a crash before a flush) or stale (someone deleted the remote file), and
// verify always asks the destination itself.
package ledger

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Record is what a destination holds for one key.
type Record struct {
	SHA256   string    `json:"sha256,omitempty"`
	Size     int64     `json:"size,omitempty"`
	RemoteID string    `json:"remote_id,omitempty"`
	ModTime  time.Time `json:"mtime,omitzero"`
	// Extra holds importer-specific state, such as a resumable upload's
	// session URL and confirmed offset.
	Extra map[string]string `json:"extra,omitempty"`
}

// flushEvery bounds how many buffered writes a crash can lose. Each flush is
// one transaction and one fsync, instead of one per item.
const flushEvery = 256

// fillPercent is how full bbolt packs the pages it writes.
const fillPercent = 1.0

// Ledger is an embedded bbolt store with one bucket per destination. It is
// safe for concurrent use.
type Ledger struct {
	db *bolt.DB

	mu      sync.Mutex
	pending map[bucketKey]*Record // nil value = delete

	gets atomic.Int64 // Gets since the file's pages were last dropped
}

// dropEvery is how many Gets read through the mmap between two drops of
// its pages (dropPages): a few hundred kilobytes of records, so the
// ledger's share of resident memory stays flat however many files a run
// looks up, for a system call and the page faults of pages read again.
const dropEvery = 4096

type bucketKey struct{ dest, key string }

// ErrLocked means another miexit process holds the ledger.
var ErrLocked = errors.New("the ledger is in use by another miexit process; wait for it to finish")

// Open opens (creating) the ledger file at path.
func Open(path string) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("ledger %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	return &Ledger{db: db, pending: map[bucketKey]*Record{}}, nil
}

// Get returns the record for key at dest.
func (l *Ledger) Get(dest, key string) (Record, bool, error) {
	l.mu.Lock()
	if r, ok := l.pending[bucketKey{dest, key}]; ok {
		l.mu.Unlock()
		if r == nil {
			return Record{}, false, nil
		}
		return *r, true, nil
	}
	l.mu.Unlock()
	var rec Record
	found := false
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(dest))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		found = true
		return decode(v, &rec)
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("ledger get %s: %w", key, err)
	}
	if l.gets.Add(1)%dropEvery == 0 {
		l.dropPages()
	}
	return rec, found, nil
}

// Put records key at dest. Writes are buffered; Flush (or every few hundred
// puts) makes them durable.
func (l *Ledger) Put(dest, key string, rec Record) error {
	l.mu.Lock()
	l.pending[bucketKey{dest, key}] = &rec
	n := len(l.pending)
	l.mu.Unlock()
	if n >= flushEvery {
		return l.Flush()
	}
	return nil
}

// PutNow records key and makes it durable before returning: for state that
// must survive a crash, like a resumable upload's session.
func (l *Ledger) PutNow(dest, key string, rec Record) error {
	if err := l.Put(dest, key, rec); err != nil {
		return err
	}
	return l.Flush()
}

// Delete forgets key at dest.
func (l *Ledger) Delete(dest, key string) error {
	l.mu.Lock()
	l.pending[bucketKey{dest, key}] = nil
	n := len(l.pending)
	l.mu.Unlock()
	if n >= flushEvery {
		return l.Flush()
	}
	return nil
}

// Flush writes buffered records in one transaction.
func (l *Ledger) Flush() error {
	l.mu.Lock()
	pending := l.pending
	l.pending = map[bucketKey]*Record{}
	l.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	// In key order: bbolt then appends to its last page where the keys
	// come in order (an import's mostly do), so pages split full.
	keys := slices.SortedFunc(maps.Keys(pending), func(a, b bucketKey) int {
		return cmp.Or(strings.Compare(a.dest, b.dest), strings.Compare(a.key, b.key))
	})
	err := l.db.Update(func(tx *bolt.Tx) error {
		for _, k := range keys {
			r := pending[k]
			b, err := tx.CreateBucketIfNotExists([]byte(k.dest))
			if err != nil {
				return err
			}
			// bbolt splits pages half full by default, which doubles
			// the file; a migrate's final check then reads every record
			// through bbolt's mmap, and all of it counts as resident
			// memory. Importers write keys mostly in manifest order, so
			// fuller pages rarely split again.
			b.FillPercent = fillPercent
			if r == nil {
				if err := b.Delete([]byte(k.key)); err != nil {
					return err
				}
				continue
			}
			if err := b.Put([]byte(k.key), encode(r)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Put them back so a later flush can retry.
		l.mu.Lock()
		for k, r := range pending {
			if _, newer := l.pending[k]; !newer {
				l.pending[k] = r
			}
		}
		l.mu.Unlock()
		return fmt.Errorf("ledger flush: %w", err)
	}
	return nil
}

// Len counts the records kept for dest.
func (l *Ledger) Len(dest string) (int, error) {
	if err := l.Flush(); err != nil {
		return 0, err
	}
	n := 0
	err := l.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(dest)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// Each calls fn for every record kept for dest whose key starts with
// prefix, in key order. fn must not write to the ledger.
func (l *Ledger) Each(dest, prefix string, fn func(key string, rec Record) error) error {
	if err := l.Flush(); err != nil {
		return err
	}
	return l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(dest))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			var rec Record
			if err := decode(v, &rec); err != nil {
				return fmt.Errorf("ledger record %s: %w", k, err)
			}
			if err := fn(string(k), rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close flushes and closes the ledger.
func (l *Ledger) Close() error {
	ferr := l.Flush()
	cerr := l.db.Close()
	return errors.Join(ferr, cerr)
}
