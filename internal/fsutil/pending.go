package fsutil

import (
	"os"
	"time"
)

// A Pending file is written first and given its name by Commit, so a
// reader never sees it half-written. Where the system allows, it has no
// name at all until then (Linux's O_TMPFILE): a crash leaves nothing
// behind, and the folder's entries change once per file instead of twice
// (create a temp name, rename it), which is what dominated copying many
// small files. Elsewhere it is a temp file renamed into place.
type Pending struct {
	*os.File
	dst    string
	hidden bool
}

// Create starts the file that Commit will put at dst (creating dst's
// folder). The file is readable and writable, mode 0600 as CreateTemp's.
func Create(dst string) (*Pending, error) {
	if f, ok := createHidden(dst); ok {
		return &Pending{File: f, dst: dst, hidden: true}, nil
	}
	f, err := CreateTemp(dst)
	if err != nil {
		return nil, err
	}
	return &Pending{File: f, dst: dst}, nil
}

// Commit closes the file and gives it its name, replacing what was there.
func (p *Pending) Commit() error {
	if !p.hidden {
		return Commit(p.File, p.dst, false)
	}
	err := linkHidden(p.File, p.dst)
	if cerr := p.File.Close(); err == nil {
		err = cerr
	}
	return err
}

// SetModTime sets the file's modification (and access) time before
// Commit names it: through the open file, not a path looked up again, and
// never on a file another process has put at dst.
func (p *Pending) SetModTime(t time.Time) error { return setTimes(p.File, t) }

// Abort drops the file.
func (p *Pending) Abort() {
	if !p.hidden {
		Abort(p.File)
		return
	}
	p.File.Close()
}
