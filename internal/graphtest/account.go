package graphtest

import (
	"net/http"
	"strings"
)

// DefaultDriveID is the id GET /me/drive answers until SwitchAccount.
const DefaultDriveID = "1a2b3c4d5e6f7a8b"

// DriveID is the signed-in account's drive id, as GET /me/drive gives it.
func (s *Server) DriveID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.driveIDLocked()
}

func (s *Server) driveIDLocked() string {
	if s.driveID == "" {
		return DefaultDriveID
	}
	return s.driveID
}

// SwitchAccount makes the token belong to another account, with its own
// empty drive of id driveID, as after `miexit auth onedrive` with another
// Microsoft account: the items and upload sessions of the old one are
// gone from the fake (it holds one account at a time).
func (s *Server) SwitchAccount(driveID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.driveID = driveID
	s.byID = map[string]*node{}
	s.sess = map[string]*session{}
	s.root = s.newNode(nil, "root", true)
}

// Empty deletes everything in the drive, as a person would in OneDrive's
// web UI; the app folder comes back on first use, as Graph's does.
func (s *Server) Empty() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.root.children {
		s.unlink(c)
	}
}

// serveDrive answers GET /me/drive: the drive's id and owner, which stay
// the same for an account whatever its files.
func (s *Server) serveDrive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeErr(w, http.StatusMethodNotAllowed, "invalidRequest", r.Method+" /me/drive is not supported")
		return
	}
	s.mu.Lock()
	id := s.driveIDLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id":        id,
		"driveType": "personal",
		"owner":     map[string]any{"user": map[string]any{"id": strings.ToUpper(id), "displayName": "Test User"}},
	})
}
