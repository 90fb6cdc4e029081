package google

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/api/drive/v3"

	"github.com/miexit/miexit/importers"
)

// Account implements importers.Accounter: the Drive user's permissionId
// (about?fields=user(permissionId)), looked up once. It names the Google
// account behind both People and Drive, and drive.file is enough to ask.
func (im *Importer) Account(ctx context.Context) (string, error) {
	im.acctMu.Lock()
	defer im.acctMu.Unlock()
	if im.acct != "" {
		return im.acct, nil
	}
	var a *drive.About
	err := im.call(ctx, "drive about", func(ctx context.Context) error {
		var err error
		a, err = im.drive.About.Get().Fields("user(permissionId)").Context(ctx).Do()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("google: which account (drive about): %w", err)
	}
	if a.User == nil || a.User.PermissionId == "" {
		return "", errors.New("google: drive about gave no user permissionId")
	}
	im.acct = a.User.PermissionId
	return im.acct, nil
}

var _ importers.Accounter = (*Importer)(nil)
