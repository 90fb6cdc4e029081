package googletest

import (
	"net/http"

	"google.golang.org/api/people/v1"
)

// EPAbout is Drive's about.get, which names the signed-in user.
const EPAbout = "drive.about.get"

// DefaultPermissionID is the Drive user's permissionId until SwitchAccount.
const DefaultPermissionID = "04918712366245103815"

// PermissionID is the signed-in user's Drive permissionId, as
// about?fields=user(permissionId) gives it.
func (s *Server) PermissionID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.permissionIDLocked()
}

func (s *Server) permissionIDLocked() string {
	if s.permissionID == "" {
		return DefaultPermissionID
	}
	return s.permissionID
}

// SwitchAccount makes the token belong to another Google account, of
// permissionId id, with no contacts and an empty Drive, as after `miexit
// auth google` with another account (the fake holds one at a time).
func (s *Server) SwitchAccount(id string) {
	s.mu.Lock()
	s.permissionID = id
	s.mu.Unlock()
	s.Empty()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*session{}
}

// Empty deletes every contact, every contact group of the user's own and
// every Drive file, as a person would in the Google web UIs.
func (s *Server) Empty() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.people = nil
	s.photos = map[string][]byte{}
	var keep []*people.ContactGroup
	for _, g := range s.groups {
		if g.GroupType == "SYSTEM_CONTACT_GROUP" {
			keep = append(keep, g)
		}
	}
	s.groups = keep
	for id := range s.files {
		if id != rootID {
			delete(s.files, id)
		}
	}
}

// about answers about.get. Drive refuses it without a fields parameter.
func (s *Server) about(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("fields") == "" {
		writeError(w, http.StatusBadRequest, "required", "The 'fields' parameter is required for this operation.")
		return
	}
	s.mu.Lock()
	id := s.permissionIDLocked()
	s.mu.Unlock()
	writeJSON(w, map[string]any{"user": map[string]any{
		"kind": "drive#user", "displayName": "Test User", "me": true, "permissionId": id, "emailAddress": "test@example.com",
	}})
}
