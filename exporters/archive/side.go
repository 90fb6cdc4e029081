package archive

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/miexit/miexit/internal/snapshot"
)

// sideDocs parses an archive's contacts and messages documents beside its
// photos and videos, instead of after them: the walk meets contacts/ and
// messages/ after DCIM/, and parsing 100,000 messages on one core while
// the other waits was a fifth of a migrate. It walks the archive once more
// (names and sizes only) to find those documents early, and reads each,
// in the walk's order, into its own snapshot.Lane; the export's walk then
// places each lane where it meets the document, so the manifest is the
// one a sequential export writes.
//
// It stands aside when the archive holds anything else that adds records
// or that messages need first: a MIUI backup or a zip (either may hold
// contacts and messages), an XML file (an SMS Backup & Restore export),
// or a snapshot's attachments (which the B&R XML embeds). A renamed
// backup, only known once its bytes are read, still exports correctly;
// its records and the lane's then share documents in the order they came.
type sideDocs struct {
	decided chan struct{}
	lanes   map[string][]*snapshot.Lane // by member name, in walk order
}

// sequentialDocs turns sideDocs off: tests compare with the sequential way.
var sequentialDocs bool

func newSideDocs() *sideDocs { return &sideDocs{decided: make(chan struct{})} }

// errSeenEnough stops the side walk once the archive is known to need the
// sequential way.
var errSeenEnough = errors.New("side documents: not for this archive")

// blocksSide says whether m may add records, or hold what messages need,
// outside a record document.
func blocksSide(m member) bool {
	lower := strings.ToLower(m.Name)
	if lower == snapshot.SMSXMLPath || lower == snapshot.CallsXMLPath {
		return false // a snapshot's own, not read
	}
	switch path.Ext(lower) {
	case ".bak", ".zip", ".xml":
		return true
	}
	return strings.HasPrefix(lower, snapshot.AttachmentsDir+"/")
}

func (s *sideDocs) run(ctx context.Context, wk walker, w *snapshot.Writer) error {
	docs, lanes, err := s.start(ctx, wk, w)
	close(s.decided)
	if err != nil {
		return err
	}
	for i, m := range docs {
		if err := records(ctx, lanes[i], m); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

// start finds the record documents by a walk of the archive and gives
// each a lane (none when the archive needs the sequential way).
func (s *sideDocs) start(ctx context.Context, wk walker, w *snapshot.Writer) ([]member, []*snapshot.Lane, error) {
	if sequentialDocs {
		return nil, nil, nil
	}
	var docs []member
	err := wk.walk(ctx, func(m member) error {
		if blocksSide(m) {
			return errSeenEnough
		}
		if recordDoc(m) {
			docs = append(docs, m)
		}
		return nil
	}, func(string, string) {})
	if err != nil || len(docs) == 0 {
		// Nothing for a lane, or an archive for the sequential way; a
		// walk that failed fails the export's own walk too, which says so.
		return nil, nil, nil
	}
	lanes := make([]*snapshot.Lane, len(docs))
	s.lanes = map[string][]*snapshot.Lane{}
	for i, m := range docs {
		l, err := w.Lane()
		if err != nil {
			return nil, nil, err
		}
		lanes[i] = l
		s.lanes[m.Name] = append(s.lanes[m.Name], l)
	}
	return docs, lanes, nil
}

// unplaced fails when a document the side walk found was not met by the
// export's walk (it went away in between): its records were read, but
// have no place in the manifest.
func (s *sideDocs) unplaced(ctx context.Context) error {
	select {
	case <-s.decided:
	case <-ctx.Done():
		return ctx.Err()
	}
	for name, q := range s.lanes {
		if len(q) > 0 {
			return fmt.Errorf("%s changed during the export (it was gone when the export came to it); run again", name)
		}
	}
	return nil
}

// took says whether m, met by the export's walk, is a document a lane
// reads; it then places that lane there.
func (s *sideDocs) took(ctx context.Context, m member) (bool, error) {
	if !recordDoc(m) {
		return false, nil
	}
	select {
	case <-s.decided:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	q := s.lanes[m.Name]
	if len(q) == 0 {
		// Not there when the side walk looked: read it here.
		return false, nil
	}
	s.lanes[m.Name] = q[1:]
	q[0].Place()
	return true, nil
}
