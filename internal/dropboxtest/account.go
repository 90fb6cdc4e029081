package dropboxtest

import (
	"encoding/json"
	"strings"
)

// RouteCurrentAccount is users/get_current_account.
const RouteCurrentAccount = "users/get_current_account"

// DefaultAccountID is the account_id answered until SwitchAccount.
const DefaultAccountID = "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"

// AccountID is the signed-in account's account_id.
func (s *Server) AccountID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountIDLocked()
}

func (s *Server) accountIDLocked() string {
	if s.accountID == "" {
		return DefaultAccountID
	}
	return s.accountID
}

// SwitchAccount makes the token belong to another account, id, whose
// Dropbox is empty, as after `miexit auth dropbox` with another account:
// the old account's files, folders and sessions are gone from the fake (it
// holds one account at a time).
func (s *Server) SwitchAccount(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountID = id
	s.files = map[string]*File{}
	s.folders = map[string]string{}
	s.sessions = map[string]*session{}
	s.cursors = map[string][]json.RawMessage{}
}

// Empty deletes every file and folder, as a person would in Dropbox's web
// UI.
func (s *Server) Empty() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files = map[string]*File{}
	s.folders = map[string]string{}
}

// currentAccount is users/get_current_account's answer: a FullAccount
// with the fields the SDK needs to decode it.
func (s *Server) currentAccount() map[string]any {
	id := s.accountIDLocked()
	ns := strings.TrimPrefix(id, "dbid:")
	return map[string]any{
		"account_id":     id,
		"name":           map[string]any{"given_name": "Test", "surname": "User", "familiar_name": "Test", "display_name": "Test User", "abbreviated_name": "TU"},
		"email":          "test@example.com",
		"email_verified": true,
		"disabled":       false,
		"locale":         "en",
		"referral_link":  "https://db.tt/test",
		"is_paired":      false,
		"account_type":   map[string]any{".tag": "basic"},
		"root_info":      map[string]any{".tag": "user", "root_namespace_id": ns, "home_namespace_id": ns},
	}
}
