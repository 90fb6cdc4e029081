package google

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/miexit/miexit/internal/googletest"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// ListKinds reads Drive once for every whole-file kind (one loadTree, as
// List of one kind does) and gives what List gives kind by kind; verify
// then finds a complete import complete.
func TestListKindsReadsDriveOnceForEveryKind(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) { addFiles(t, w, 0) })
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	im := e.importer(t)
	kinds := []mapping.Kind{mapping.KindNote, mapping.KindMedia, mapping.KindFile}
	byKind := map[string]mapping.Remote{}
	var oneKind int // files.list calls of the List of one kind
	for _, k := range kinds {
		before := e.srv.Count(googletest.EPFilesList)
		for id, r := range remotes(t, im, k) {
			byKind[string(k)+" "+id] = r
		}
		oneKind = e.srv.Count(googletest.EPFilesList) - before
	}
	before := e.srv.Count(googletest.EPFilesList)
	together := map[string]mapping.Remote{}
	for r, err := range im.ListKinds(ctx, kinds, nil) {
		if err != nil {
			t.Fatal(err)
		}
		together[string(r.Kind)+" "+r.Path] = r
	}
	if n := e.srv.Count(googletest.EPFilesList) - before; n != oneKind {
		t.Errorf("ListKinds of %d kinds made %d files.list calls, List of one kind %d", len(kinds), n, oneKind)
	}
	if !maps.Equal(together, byKind) {
		t.Errorf("ListKinds gave %v\nList kind by kind %v", slices.Sorted(maps.Keys(together)), slices.Sorted(maps.Keys(byKind)))
	}
	if len(byKind) < 5 {
		t.Fatalf("Drive lists %d files of %v, want the note, 3 media and the documents", len(byKind), kinds)
	}
	res, err := verify.Run(ctx, e.snap, e.importer(t), e.led)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Errorf("verify of a complete import: %+v", res)
	}
}

// Migrate's final check at Drive (verify.RunWritten) takes messages and
// calls as their document's: a document Drive holds byte for byte (its
// sha256) is not downloaded. Contacts live in People, not in a document,
// so they are listed and compared every time: a contact deleted there is
// found missing. A document changed at Drive has its records compared
// one by one.
func TestTheFinalCheckTakesDocumentsWholeButNeverContacts(t *testing.T) {
	e := newEnv(t, func(w *snapshot.Writer) {
		addContacts(t, w, 5)
		addFiles(t, w, 0)
	})
	if _, err := e.run(t); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	row := func(res verify.Result, k mapping.Kind) verify.Row {
		for _, r := range res.Rows {
			if r.Kind == k {
				return r
			}
		}
		t.Fatalf("no row for %s in %+v", k, res.Rows)
		return verify.Row{}
	}
	before := e.srv.Count(googletest.EPFilesDownload)
	res, err := verify.RunWritten(ctx, e.snap, e.importer(t), e.led)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("final check of a complete import: %+v", res)
	}
	if n := e.srv.Count(googletest.EPFilesDownload) - before; n != 0 {
		t.Errorf("the final check downloaded %d documents, want none: the documents are the snapshot's", n)
	}
	for _, k := range []mapping.Kind{mapping.KindContact, mapping.KindMessage, mapping.KindCall} {
		if r := row(res, k); r.Source == 0 || r.Destination != r.Source {
			t.Errorf("%s: %+v", k, r)
		}
	}

	contacts := e.srv.Contacts()
	if len(contacts) != 5 {
		t.Fatalf("People holds %d contacts, want 5", len(contacts))
	}
	e.srv.DeleteContact(contacts[0].ResourceName)
	docs := e.srv.FindFiles("miexit/adb_TEST123/" + snapshot.MessagesPath)
	if len(docs) != 1 {
		t.Fatalf("%d copies of %s at Drive, want 1", len(docs), snapshot.MessagesPath)
	}
	body, _ := e.srv.Content(docs[0].ID)
	first, _, _ := bytes.Cut(body, []byte("\n"))
	e.srv.SetContent(docs[0].ID, append(first, '\n')) // the first message only
	res, err = verify.RunWritten(ctx, e.snap, e.importer(t), e.led)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK {
		t.Fatalf("the final check passed with a contact deleted and a message gone: %+v", res)
	}
	if r := row(res, mapping.KindContact); r.Missing != 1 {
		t.Errorf("contacts: %+v, want 1 missing", r)
	}
	if r := row(res, mapping.KindMessage); r.Missing != 1 || r.Destination != 1 {
		t.Errorf("messages: %+v, want 1 of 2 at Drive, 1 missing", r)
	}
}
