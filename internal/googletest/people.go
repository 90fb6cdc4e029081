package googletest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/api/people/v1"
)

// filterPerson keeps the fields a person mask names, plus the resource name
// and etag every response carries.
func filterPerson(p *people.Person, mask map[string]bool) *people.Person {
	b, _ := json.Marshal(p)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	for k := range m {
		if k != "resourceName" && k != "etag" && !mask[k] {
			delete(m, k)
		}
	}
	b, _ = json.Marshal(m)
	var out people.Person
	json.Unmarshal(b, &out)
	return &out
}

func clonePerson(p *people.Person) *people.Person {
	b, _ := json.Marshal(p)
	var out people.Person
	json.Unmarshal(b, &out)
	return &out
}

func (s *Server) nextID() int {
	s.seq++
	return s.seq
}

func (s *Server) personLocked(rn string) *people.Person {
	for _, p := range s.people {
		if p.ResourceName == rn {
			return p
		}
	}
	return nil
}

func (s *Server) touch(p *people.Person) {
	p.Etag = fmt.Sprintf("%%E%d", s.nextID())
}

func (s *Server) batchCreate(w http.ResponseWriter, r *http.Request) {
	var req people.BatchCreateContactsRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, 400, "badRequest", "Invalid JSON payload received. "+err.Error())
		return
	}
	if req.ReadMask == "" {
		writeError(w, 400, "badRequest", "Request must set readMask.")
		return
	}
	if len(req.Contacts) == 0 {
		writeError(w, 400, "badRequest", "Request must contain at least one contact.")
		return
	}
	if len(req.Contacts) > MaxBatchCreate {
		writeError(w, 400, "badRequest", fmt.Sprintf("Too many contacts in request: %d. The maximum is %d.", len(req.Contacts), MaxBatchCreate))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.people)+len(req.Contacts) > s.MaxContacts {
		writeError(w, 400, "failedPrecondition", fmt.Sprintf("Contacts limit exceeded: the account can hold at most %d contacts.", s.MaxContacts))
		return
	}
	for i, c := range req.Contacts {
		if c.ContactPerson == nil {
			writeError(w, 400, "badRequest", fmt.Sprintf("contacts[%d].contact_person is required.", i))
			return
		}
		if c.ContactPerson.Photos != nil {
			writeError(w, 400, "badRequest", fmt.Sprintf("contacts[%d].photos is a read-only field; use updateContactPhoto.", i))
			return
		}
	}
	mask := fieldSet(req.ReadMask)
	resp := &people.BatchCreateContactsResponse{}
	for _, c := range req.Contacts {
		p := clonePerson(c.ContactPerson)
		p.ResourceName = fmt.Sprintf("people/c%d", s.nextID())
		p.Memberships = append(p.Memberships, &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupId: "myContacts", ContactGroupResourceName: "contactGroups/myContacts"}})
		s.touch(p)
		s.people = append(s.people, p)
		resp.CreatedPeople = append(resp.CreatedPeople, &people.PersonResponse{HttpStatusCode: 200, Person: s.outPerson(p, mask)})
	}
	writeJSON(w, resp)
}

// outPerson is what the API returns for p: its fields by mask and the
// default photo Google shows for contacts without their own.
func (s *Server) outPerson(p *people.Person, mask map[string]bool) *people.Person {
	o := clonePerson(p)
	if len(o.Photos) == 0 {
		o.Photos = []*people.Photo{{Url: s.URL + "/photos/default", Default: true}}
	}
	return filterPerson(o, mask)
}

func (s *Server) connections(w http.ResponseWriter, r *http.Request) {
	mask := fieldSet(r.URL.Query().Get("personFields"))
	if mask == nil {
		writeError(w, 400, "badRequest", "personFields mask is required. Please specify one or more valid paths.")
		return
	}
	start, size, err := pageParams(r, 100, 1000)
	if err != nil {
		writeError(w, 400, "badRequest", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &people.ListConnectionsResponse{TotalItems: int64(len(s.people)), TotalPeople: int64(len(s.people))}
	for i := start; i < len(s.people) && i < start+size; i++ {
		resp.Connections = append(resp.Connections, s.outPerson(s.people[i], mask))
	}
	if start+size < len(s.people) {
		resp.NextPageToken = fmt.Sprintf("p%d", start+size)
	}
	writeJSON(w, resp)
}

func (s *Server) updatePhoto(w http.ResponseWriter, r *http.Request, rn string) {
	var req people.UpdateContactPhotoRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, 400, "badRequest", "Invalid JSON payload received. "+err.Error())
		return
	}
	b, err := base64.StdEncoding.DecodeString(req.PhotoBytes)
	if err != nil || len(b) == 0 {
		writeError(w, 400, "badRequest", "Invalid photo_bytes: not base64-encoded image data.")
		return
	}
	if !looksLikeImage(b) {
		writeError(w, 400, "badRequest", "Invalid photo_bytes: the image format is not supported.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.personLocked(rn)
	if p == nil {
		writeError(w, 404, "notFound", "Requested entity was not found.")
		return
	}
	s.photos[rn] = b
	p.Photos = []*people.Photo{{Url: s.URL + "/photos/" + strings.TrimPrefix(rn, "people/"), Metadata: &people.FieldMetadata{Primary: true, Source: &people.Source{Type: "CONTACT"}}}}
	s.touch(p)
	mask := fieldSet(req.PersonFields)
	if mask == nil {
		mask = map[string]bool{"photos": true}
	}
	writeJSON(w, &people.UpdateContactPhotoResponse{Person: s.outPerson(p, mask)})
}

func looksLikeImage(b []byte) bool {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return true
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return true
	case len(b) >= 6 && (string(b[:6]) == "GIF87a" || string(b[:6]) == "GIF89a"):
		return true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return true
	}
	return false
}

func (s *Server) servePhoto(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.photos["people/"+strings.TrimPrefix(r.URL.Path, "/photos/")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

// updateContact supports the fields miexit changes; the etag must match,
// as the API requires.
func (s *Server) updateContact(w http.ResponseWriter, r *http.Request, rn string) {
	fields := fieldSet(r.URL.Query().Get("updatePersonFields"))
	if fields == nil {
		writeError(w, 400, "badRequest", "updatePersonFields mask is required.")
		return
	}
	var in people.Person
	if err := readJSON(r, &in); err != nil {
		writeError(w, 400, "badRequest", "Invalid JSON payload received. "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.personLocked(rn)
	if p == nil {
		writeError(w, 404, "notFound", "Requested entity was not found.")
		return
	}
	if in.Etag != p.Etag {
		writeError(w, 400, "failedPrecondition", "Request person.etag is different than the current person.etag. Clear local cache and get the latest person.")
		return
	}
	// Copy the named fields through JSON so every field name works.
	src, _ := json.Marshal(&in)
	dst, _ := json.Marshal(p)
	var sm, dm map[string]json.RawMessage
	json.Unmarshal(src, &sm)
	json.Unmarshal(dst, &dm)
	for f := range fields {
		if f == "photos" || f == "memberships" {
			writeError(w, 400, "badRequest", "updatePersonFields: "+f+" cannot be updated here.")
			return
		}
		if v, ok := sm[f]; ok {
			dm[f] = v
		} else {
			delete(dm, f)
		}
	}
	dst, _ = json.Marshal(dm)
	var np people.Person
	json.Unmarshal(dst, &np)
	*p = np
	s.touch(p)
	mask := fieldSet(r.URL.Query().Get("personFields"))
	if mask == nil {
		mask = fields
	}
	writeJSON(w, s.outPerson(p, mask))
}

func (s *Server) deleteContactHTTP(w http.ResponseWriter, rn string) {
	if !s.DeleteContact(rn) {
		writeError(w, 404, "notFound", "Requested entity was not found.")
		return
	}
	writeJSON(w, map[string]any{})
}

func (s *Server) groupsList(w http.ResponseWriter, r *http.Request) {
	start, size, err := pageParams(r, 30, 1000)
	if err != nil {
		writeError(w, 400, "badRequest", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &people.ListContactGroupsResponse{TotalItems: int64(len(s.groups))}
	for i := start; i < len(s.groups) && i < start+size; i++ {
		g := *s.groups[i]
		g.MemberCount = int64(s.memberCountLocked(g.ResourceName))
		resp.ContactGroups = append(resp.ContactGroups, &g)
	}
	if start+size < len(s.groups) {
		resp.NextPageToken = fmt.Sprintf("p%d", start+size)
	}
	writeJSON(w, resp)
}

func (s *Server) memberCountLocked(rn string) int {
	n := 0
	for _, p := range s.people {
		for _, m := range p.Memberships {
			if m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName == rn {
				n++
			}
		}
	}
	return n
}

func (s *Server) groupsCreate(w http.ResponseWriter, r *http.Request) {
	var req people.CreateContactGroupRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, 400, "badRequest", "Invalid JSON payload received. "+err.Error())
		return
	}
	if req.ContactGroup == nil || strings.TrimSpace(req.ContactGroup.Name) == "" {
		writeError(w, 400, "badRequest", "contact_group.name is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		if g.Name == req.ContactGroup.Name || g.FormattedName == req.ContactGroup.Name {
			writeError(w, 409, "alreadyExists", "Contact group name already exists.")
			return
		}
	}
	id := fmt.Sprintf("%x", 0x1000+s.nextID())
	g := &people.ContactGroup{ResourceName: "contactGroups/" + id, Name: req.ContactGroup.Name, FormattedName: req.ContactGroup.Name, GroupType: "USER_CONTACT_GROUP", Etag: fmt.Sprintf("%%G%d", s.seq)}
	s.groups = append(s.groups, g)
	writeJSON(w, g)
}

func (s *Server) membersModify(w http.ResponseWriter, r *http.Request, grn string) {
	var req people.ModifyContactGroupMembersRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, 400, "badRequest", "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(req.ResourceNamesToAdd)+len(req.ResourceNamesToRemove) > 1000 {
		writeError(w, 400, "badRequest", "Too many resource names: the maximum is 1000.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var g *people.ContactGroup
	for _, x := range s.groups {
		if x.ResourceName == grn {
			g = x
		}
	}
	if g == nil {
		writeError(w, 404, "notFound", "Requested entity was not found.")
		return
	}
	resp := &people.ModifyContactGroupMembersResponse{}
	for _, rn := range req.ResourceNamesToAdd {
		p := s.personLocked(rn)
		if p == nil {
			resp.NotFoundResourceNames = append(resp.NotFoundResourceNames, rn)
			continue
		}
		if hasMembership(p, grn) {
			continue
		}
		p.Memberships = append(p.Memberships, &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupId: strings.TrimPrefix(grn, "contactGroups/"), ContactGroupResourceName: grn}})
		s.touch(p)
	}
	for _, rn := range req.ResourceNamesToRemove {
		p := s.personLocked(rn)
		if p == nil {
			resp.NotFoundResourceNames = append(resp.NotFoundResourceNames, rn)
			continue
		}
		var keep []*people.Membership
		for _, m := range p.Memberships {
			if m.ContactGroupMembership == nil || m.ContactGroupMembership.ContactGroupResourceName != grn {
				keep = append(keep, m)
			}
		}
		p.Memberships = keep
		s.touch(p)
	}
	writeJSON(w, resp)
}

func hasMembership(p *people.Person, grn string) bool {
	for _, m := range p.Memberships {
		if m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName == grn {
			return true
		}
	}
	return false
}

// AddContact puts a contact into the account directly, as one the person
// already had, and returns its resource name.
func (s *Server) AddContact(p *people.Person) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := clonePerson(p)
	c.ResourceName = fmt.Sprintf("people/c%d", s.nextID())
	c.Memberships = append(c.Memberships, &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupId: "myContacts", ContactGroupResourceName: "contactGroups/myContacts"}})
	s.touch(c)
	s.people = append(s.people, c)
	return c.ResourceName
}

// Contacts returns copies of every contact, in creation order.
func (s *Server) Contacts() []*people.Person {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*people.Person, len(s.people))
	for i, p := range s.people {
		out[i] = clonePerson(p)
	}
	return out
}

// ContactByClientData finds the contact whose clientData has key=value.
func (s *Server) ContactByClientData(key, value string) (*people.Person, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.people {
		for _, cd := range p.ClientData {
			if cd.Key == key && cd.Value == value {
				return clonePerson(p), true
			}
		}
	}
	return nil, false
}

// EditContact changes a contact in place, as an edit in the web UI would.
func (s *Server) EditContact(rn string, edit func(*people.Person)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.personLocked(rn)
	if p == nil {
		return false
	}
	edit(p)
	s.touch(p)
	return true
}

// DeleteContact removes a contact.
func (s *Server) DeleteContact(rn string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.people {
		if p.ResourceName == rn {
			s.people = append(s.people[:i], s.people[i+1:]...)
			delete(s.photos, rn)
			return true
		}
	}
	return false
}

// Photo returns the bytes of a contact's own photo.
func (s *Server) Photo(rn string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.photos[rn]
	return b, ok
}

// Groups returns the contact groups' names by resource name.
func (s *Server) Groups() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, g := range s.groups {
		out[g.ResourceName] = g.Name
	}
	return out
}
