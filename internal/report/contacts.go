package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping/people"
)

// MovedContacts lists, as pictures, the first limit contacts of snap that
// Google Contacts cannot hold field for field: some of their fields go to
// custom fields or the notes, and a person should look at them there.
func MovedContacts(snap *snapshot.Reader, limit int) ([]Picture, error) {
	var out []Picture
	for c, err := range snap.Contacts() {
		if err != nil {
			return out, fmt.Errorf("contacts: %w", err)
		}
		res := people.ToPerson(c)
		moved := res.Moved()
		var fields []string
		for _, m := range moved {
			field, _, _ := strings.Cut(m.Field, "[")
			// The vCard version and miexit's own keys are bookkeeping,
			// not something the person would miss.
			if field == "VERSION" || strings.HasPrefix(m.To, "clientData") || slices.Contains(fields, field) {
				continue
			}
			fields = append(fields, field)
		}
		if len(fields) == 0 {
			continue
		}
		name := c.Key
		if f := c.Card.Get("FN"); f != nil && strings.TrimSpace(f.Value) != "" {
			name = strings.TrimSpace(f.Value)
		}
		p := Picture{Title: name, Note: "kept in custom fields or notes: " + strings.Join(fields, ", ")}
		if res.Photo != nil {
			p.Data = res.Photo.Data
		}
		out = append(out, p)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
