package verify_test

import (
	"context"
	"slices"
	"testing"

	"github.com/miexit/miexit/importers/dir"
	"github.com/miexit/miexit/internal/report"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/mapping"
)

// contactsOnly is the dir: destination claiming to take contacts only, as
// an address book does: what it holds of the rest must not count.
type contactsOnly struct{ *dir.Importer }

func (contactsOnly) Holds(k mapping.Kind) bool { return k == mapping.KindContact }

// A destination that takes contacts only never makes verify, or the
// checklist built on it, call signing out safe while the snapshot has
// photos: they are reported as not checked there, never as passed.
func TestAContactsOnlyDestinationNeverPassesPhotos(t *testing.T) {
	snap, imp, led, _ := migrated(t)
	for _, run := range []func() (verify.Result, error){
		func() (verify.Result, error) { return verify.Run(context.Background(), snap, contactsOnly{imp}, led) },
		func() (verify.Result, error) {
			return verify.RunWritten(context.Background(), snap, contactsOnly{imp}, led)
		},
	} {
		res, err := run()
		if err != nil {
			t.Fatal(err)
		}
		if res.OK {
			t.Fatalf("verify passed at a contacts-only destination: %+v", res.Rows)
		}
		if !res.CheckedOK() || len(res.Problems) != 0 {
			t.Errorf("the contacts are all there, yet: %s", problems(res))
		}
		if !slices.Contains(res.Unchecked, mapping.KindMedia) || slices.Contains(res.Unchecked, mapping.KindContact) {
			t.Errorf("unchecked = %v, want media and not contacts", res.Unchecked)
		}
		for _, r := range res.Rows {
			if r.Kind == mapping.KindMedia && (!r.NotChecked || r.Source == 0 || r.Destination != 0) {
				t.Errorf("media row %+v: want not checked, with the snapshot's count", r)
			}
			if r.Kind == mapping.KindContact && (r.NotChecked || r.Source == 0 || r.Missing != 0) {
				t.Errorf("contact row %+v", r)
			}
		}
		safe, next := report.NextStep(report.Report{Verify: &res})
		if safe {
			t.Errorf("the checklist calls signing out safe: %s", next)
		}
		t.Log(next)
	}
}
