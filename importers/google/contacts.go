package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"os"
	"strings"

	"github.com/emersion/go-vcard"
	"google.golang.org/api/people/v1"

	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

const listFields = "names,phoneNumbers,emailAddresses,clientData,memberships,photos"

// updateFields are the fields a repair rewrites.
const updateFields = "names,nicknames,phoneNumbers,emailAddresses,addresses,organizations,birthdays,biographies,urls,clientData"

// account is what the People API holds before the run.
type account struct {
	total int
	// byKey are the contacts miexit created (or linked), by item key.
	byKey map[string]*people.Person
	// byName are the other contacts, by lower-cased display name, for the
	// "already there" check.
	byName map[string][]*people.Person
}

func (im *Importer) loadAccount(ctx context.Context) (*account, error) {
	a := &account{byKey: map[string]*people.Person{}, byName: map[string][]*people.Person{}}
	for p, err := range im.connections(ctx) {
		if err != nil {
			return nil, err
		}
		a.total++
		if k := clientData(p, cdKey); k != "" {
			a.byKey[k] = p
			continue
		}
		if n := displayName(p); n != "" {
			a.byName[n] = append(a.byName[n], p)
		}
	}
	return a, nil
}

// connections pages through every contact, 1000 at a time.
func (im *Importer) connections(ctx context.Context) iter.Seq2[*people.Person, error] {
	return func(yield func(*people.Person, error) bool) {
		token := ""
		for {
			var resp *people.ListConnectionsResponse
			err := im.call(ctx, "list contacts", func(ctx context.Context) error {
				var err error
				resp, err = im.people.People.Connections.List("people/me").PersonFields(listFields).
					PageSize(1000).PageToken(token).Context(ctx).Do()
				return err
			})
			if err != nil {
				yield(nil, fmt.Errorf("google contacts: %w", err))
				return
			}
			for _, p := range resp.Connections {
				if !yield(p, nil) {
					return
				}
			}
			if resp.NextPageToken == "" {
				return
			}
			token = resp.NextPageToken
		}
	}
}

// alreadyThere finds a contact the person had before miexit: same name and
// at least one shared phone number or e-mail address.
func (a *account) alreadyThere(p *people.Person) *people.Person {
	cands := a.byName[displayName(p)]
	if len(cands) == 0 {
		return nil
	}
	mine := map[string]bool{}
	for _, x := range addresses(p) {
		mine[x] = true
	}
	for _, c := range cands {
		for _, x := range addresses(c) {
			if mine[x] {
				return c
			}
		}
	}
	return nil
}

// contactItem is one snapshot contact on its way.
type contactItem struct {
	key, sha string
	person   *people.Person
	labels   []string
	photo    []byte
}

// snapshotContacts streams the snapshot's contacts with their record hash.
func snapshotContacts(snap *snapshot.Reader) iter.Seq2[contactItem, error] {
	return func(yield func(contactItem, error) bool) {
		f, err := snap.Open(snapshot.ContactsPath)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			yield(contactItem{}, err)
			return
		}
		defer f.Close()
		for rec, err := range snapshot.Records(f, snapshot.ContactsPath) {
			if err != nil {
				yield(contactItem{}, err)
				return
			}
			card, err := vcard.NewDecoder(bytes.NewReader(rec.Data)).Decode()
			if err != nil {
				yield(contactItem{}, fmt.Errorf("%w: %s: contact %s: %v", mapping.ErrBadInput, snapshot.ContactsPath, rec.Key, err))
				return
			}
			delete(card, snapshot.KeyField)
			p, labels, photo, err := toPerson(mapping.Contact{Key: rec.Key, Card: card}, rec.SHA256)
			if err != nil {
				yield(contactItem{}, err)
				return
			}
			if !yield(contactItem{key: rec.Key, sha: rec.SHA256, person: p, labels: labels, photo: photo}, nil) {
				return
			}
		}
	}
}

func hasOwnPhoto(p *people.Person) bool {
	for _, ph := range p.Photos {
		if !ph.Default {
			return true
		}
	}
	return false
}

// contactRun carries one import's contact state. Every People mutate goes
// through it, one at a time, as Google requires.
type contactRun struct {
	im     *Importer
	led    *ledger.Ledger
	rep    progress.Reporter
	acc    *account
	groups map[string]string   // label -> contactGroups/...
	adds   map[string][]string // label -> people/... to add
	errs   []error
}

func (im *Importer) importContacts(ctx context.Context, snap *snapshot.Reader, led *ledger.Ledger, rep progress.Reporter) error {
	if snap.Counts().Contacts == 0 {
		if _, err := os.Stat(snapPath(snap, snapshot.ContactsPath)); err != nil {
			return nil
		}
	}
	acc, err := im.loadAccount(ctx)
	if err != nil {
		return err
	}
	// First pass: how many would be new, checked against the account limit
	// before anything is written.
	newCount := 0
	for it, err := range snapshotContacts(snap) {
		if err != nil {
			return err
		}
		if acc.byKey[it.key] == nil && acc.alreadyThere(it.person) == nil {
			newCount++
		}
	}
	if acc.total+newCount > im.maxContact {
		return fmt.Errorf("google contacts: the account holds %d contacts and this import adds %d, over Google's limit of %d; nothing was imported",
			acc.total, newCount, im.maxContact)
	}
	r := &contactRun{im: im, led: led, rep: rep, acc: acc, adds: map[string][]string{}}
	if !im.p.DryRun {
		if r.groups, err = im.loadGroups(ctx); err != nil {
			return err
		}
	}
	var batch []contactItem
	for it, err := range snapshotContacts(snap) {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if ex := acc.byKey[it.key]; ex != nil {
			if err := r.existing(ctx, it, ex); err != nil {
				return err
			}
			continue
		}
		if ex := acc.alreadyThere(it.person); ex != nil {
			if err := r.link(ctx, it, ex); err != nil {
				return err
			}
			continue
		}
		if im.p.DryRun {
			im.report(rep, mapping.KindContact, it.key, progress.WouldCopy, 0, nil)
			continue
		}
		batch = append(batch, it)
		if len(batch) == batchSize {
			if err := r.create(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := r.create(ctx, batch); err != nil {
			return err
		}
	}
	if err := r.applyLabels(ctx); err != nil {
		return err
	}
	return errors.Join(r.errs...)
}

func snapPath(snap *snapshot.Reader, rel string) string {
	p, _ := snap.Path(rel)
	return p
}

// create sends one batch. If a try fails after Google may have created
// some of it (a lost answer), the contacts already there are taken out
// before the next try, so a retry never duplicates.
func (r *contactRun) create(ctx context.Context, batch []contactItem) error {
	im := r.im
	tries := 0
	var resp *people.BatchCreateContactsResponse
	pending := batch
	err := im.mutate(ctx, "create contacts", func(ctx context.Context) error {
		if tries > 0 {
			acc, err := im.loadAccount(ctx)
			if err != nil {
				return err
			}
			var left []contactItem
			for _, it := range pending {
				if ex := acc.byKey[it.key]; ex != nil {
					r.acc.byKey[it.key] = ex
					if err := r.after(ctx, it, ex); err != nil {
						return err
					}
					im.report(r.rep, mapping.KindContact, it.key, progress.Copied, int64(len(it.photo)), nil)
					continue
				}
				left = append(left, it)
			}
			pending = left
			if len(pending) == 0 {
				resp = &people.BatchCreateContactsResponse{}
				return nil
			}
		}
		tries++
		req := &people.BatchCreateContactsRequest{ReadMask: "clientData,photos,memberships"}
		for _, it := range pending {
			req.Contacts = append(req.Contacts, &people.ContactToCreate{ContactPerson: it.person})
		}
		var err error
		resp, err = im.people.People.BatchCreateContacts(req).Context(ctx).Do()
		return err
	})
	if err != nil {
		return fmt.Errorf("google contacts: create %d contacts (first %s): %w", len(pending), pending[0].key, err)
	}
	byKey := map[string]*people.Person{}
	for _, pr := range resp.CreatedPeople {
		if pr.Person != nil {
			byKey[clientData(pr.Person, cdKey)] = pr.Person
		}
	}
	for _, it := range pending {
		p := byKey[it.key]
		if p == nil {
			err := fmt.Errorf("google contacts: contact %s was not created", it.key)
			r.errs = append(r.errs, err)
			im.report(r.rep, mapping.KindContact, it.key, progress.Failed, 0, err)
			continue
		}
		r.acc.byKey[it.key] = p
		if err := r.after(ctx, it, p); err != nil {
			return err
		}
		im.report(r.rep, mapping.KindContact, it.key, progress.Copied, int64(len(it.photo)), nil)
	}
	return nil
}

// after finishes a contact that exists: its photo, its labels, its ledger
// record.
func (r *contactRun) after(ctx context.Context, it contactItem, p *people.Person) error {
	im := r.im
	if len(it.photo) > 0 && !hasOwnPhoto(p) {
		err := im.mutate(ctx, "contact photo", func(ctx context.Context) error {
			_, err := im.people.People.UpdateContactPhoto(p.ResourceName, &people.UpdateContactPhotoRequest{
				PhotoBytes: base64.StdEncoding.EncodeToString(it.photo),
			}).Context(ctx).Do()
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			// A photo Google refuses is reported, not fatal to the rest.
			err = fmt.Errorf("google contacts: photo of %s: %w", it.key, err)
			r.errs = append(r.errs, err)
			im.report(r.rep, mapping.KindContact, it.key, progress.Failed, 0, err)
		}
	}
	for _, l := range it.labels {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if g, ok := r.groups[l]; ok && hasMembershipIn(p, g) {
			continue
		}
		r.adds[l] = append(r.adds[l], p.ResourceName)
	}
	return r.led.Put(im.dest, it.key, ledger.Record{SHA256: it.sha, RemoteID: p.ResourceName})
}

func hasMembershipIn(p *people.Person, group string) bool {
	for _, m := range p.Memberships {
		if m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName == group {
			return true
		}
	}
	return false
}

// existing handles a contact miexit put there before: left alone when it
// still matches, rewritten when the snapshot changed or the copy was edited.
func (r *contactRun) existing(ctx context.Context, it contactItem, ex *people.Person) error {
	im := r.im
	fp := clientData(ex, cdPrint)
	same := clientData(ex, cdSHA256) == it.sha && (fp == "-" || fp == fingerprint(ex))
	if same {
		if im.p.DryRun {
			im.report(r.rep, mapping.KindContact, it.key, progress.Unchanged, 0, nil)
			return nil
		}
		if err := r.after(ctx, it, ex); err != nil {
			return err
		}
		im.report(r.rep, mapping.KindContact, it.key, progress.Unchanged, 0, nil)
		return nil
	}
	if im.p.DryRun {
		im.report(r.rep, mapping.KindContact, it.key, progress.WouldCopy, 0, nil)
		return nil
	}
	np := *it.person
	fields := updateFields
	if fp == "-" {
		// A linked contact is the person's own: only miexit's data changes.
		np = people.Person{ClientData: mergeClientData(ex.ClientData, it.key, it.sha, "-")}
		fields = "clientData"
	}
	up, err := r.update(ctx, ex, &np, fields)
	if err != nil {
		return fmt.Errorf("google contacts: update %s: %w", it.key, err)
	}
	if err := r.after(ctx, it, up); err != nil {
		return err
	}
	im.report(r.rep, mapping.KindContact, it.key, progress.Copied, 0, nil)
	return nil
}

// link marks a contact the person already had with miexit's key, so it is
// neither duplicated now nor reported missing by verify.
func (r *contactRun) link(ctx context.Context, it contactItem, ex *people.Person) error {
	im := r.im
	note := fmt.Errorf("already there: %s has the same name and a shared phone or e-mail; not duplicated", ex.ResourceName)
	if im.p.DryRun {
		im.report(r.rep, mapping.KindContact, it.key, progress.Unchanged, 0, note)
		return nil
	}
	np := &people.Person{ClientData: mergeClientData(ex.ClientData, it.key, it.sha, "-")}
	up, err := r.update(ctx, ex, np, "clientData")
	if err != nil {
		return fmt.Errorf("google contacts: link %s to %s: %w", it.key, ex.ResourceName, err)
	}
	r.acc.byKey[it.key] = up
	// Take it out of the candidates so two snapshot cards do not both
	// claim it.
	n := displayName(ex)
	cands := r.acc.byName[n]
	for i, c := range cands {
		if c.ResourceName == ex.ResourceName {
			r.acc.byName[n] = append(cands[:i:i], cands[i+1:]...)
			break
		}
	}
	if err := r.led.Put(im.dest, it.key, ledger.Record{SHA256: it.sha, RemoteID: ex.ResourceName}); err != nil {
		return err
	}
	im.report(r.rep, mapping.KindContact, it.key, progress.Unchanged, 0, note)
	return nil
}

func mergeClientData(old []*people.ClientData, key, sha, fp string) []*people.ClientData {
	var out []*people.ClientData
	for _, cd := range old {
		if !strings.HasPrefix(cd.Key, "miexit.") {
			out = append(out, &people.ClientData{Key: cd.Key, Value: cd.Value})
		}
	}
	return append(out, &people.ClientData{Key: cdKey, Value: key}, &people.ClientData{Key: cdSHA256, Value: sha}, &people.ClientData{Key: cdPrint, Value: fp})
}

func (r *contactRun) update(ctx context.Context, ex *people.Person, np *people.Person, fields string) (*people.Person, error) {
	im := r.im
	etag := ex.Etag
	var out *people.Person
	err := im.mutate(ctx, "update contact", func(ctx context.Context) error {
		np.Etag = etag
		var err error
		out, err = im.people.People.UpdateContact(ex.ResourceName, np).UpdatePersonFields(fields).
			PersonFields(listFields).Context(ctx).Do()
		return err
	})
	return out, err
}

// loadGroups maps label names to their contact groups.
func (im *Importer) loadGroups(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	token := ""
	for {
		var resp *people.ListContactGroupsResponse
		err := im.call(ctx, "list contact groups", func(ctx context.Context) error {
			var err error
			resp, err = im.people.ContactGroups.List().PageSize(1000).PageToken(token).Context(ctx).Do()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("google contact groups: %w", err)
		}
		for _, g := range resp.ContactGroups {
			if g.GroupType == "USER_CONTACT_GROUP" {
				out[g.Name] = g.ResourceName
			}
		}
		if resp.NextPageToken == "" {
			return out, nil
		}
		token = resp.NextPageToken
	}
}

// applyLabels creates missing groups and adds members, 1000 per call.
func (r *contactRun) applyLabels(ctx context.Context) error {
	im := r.im
	for _, label := range sortedKeys(r.adds) {
		members := r.adds[label]
		g, ok := r.groups[label]
		if !ok {
			var cg *people.ContactGroup
			err := im.mutate(ctx, "create contact group", func(ctx context.Context) error {
				var err error
				cg, err = im.people.ContactGroups.Create(&people.CreateContactGroupRequest{
					ContactGroup: &people.ContactGroup{Name: label},
				}).Context(ctx).Do()
				return err
			})
			if err != nil {
				return fmt.Errorf("google contacts: create label %q: %w", label, err)
			}
			g = cg.ResourceName
			r.groups[label] = g
		}
		for start := 0; start < len(members); start += membersPerCall {
			part := members[start:min(start+membersPerCall, len(members))]
			err := im.mutate(ctx, "add to contact group", func(ctx context.Context) error {
				_, err := im.people.ContactGroups.Members.Modify(g, &people.ModifyContactGroupMembersRequest{ResourceNamesToAdd: part}).Context(ctx).Do()
				return err
			})
			if err != nil {
				return fmt.Errorf("google contacts: label %q: %w", label, err)
			}
		}
	}
	return nil
}

// listContacts yields the contacts carrying miexit's key. SHA256 is the
// snapshot record's hash miexit stored, as long as the fields miexit wrote
// are still what it wrote; an edited or damaged contact gets a hash that
// matches nothing, so verify calls it different.
func (im *Importer) listContacts(ctx context.Context) iter.Seq2[mapping.Remote, error] {
	return func(yield func(mapping.Remote, error) bool) {
		for p, err := range im.connections(ctx) {
			if err != nil {
				yield(mapping.Remote{}, err)
				return
			}
			key := clientData(p, cdKey)
			if key == "" {
				continue
			}
			sha := clientData(p, cdSHA256)
			if fp := clientData(p, cdPrint); fp != "-" {
				if got := fingerprint(p); got != fp {
					sha = "edited-since-import:" + got
				}
			}
			if !yield(mapping.Remote{Kind: mapping.KindContact, Key: key, Path: snapshot.ContactsPath, SHA256: sha}, nil) {
				return
			}
		}
	}
}
