package onedrive

import (
	"context"
	"fmt"
	"sync"

	"github.com/miexit/miexit/importers"
)

// account caches the drive id for the importer's life: one GET /me/drive
// per run.
type account struct {
	mu sync.Mutex
	id string
}

// Account implements importers.Accounter: the signed-in account's drive
// id (GET /me/drive), which another Microsoft account does not share.
func (im *Importer) Account(ctx context.Context) (string, error) {
	im.acct.mu.Lock()
	defer im.acct.mu.Unlock()
	if im.acct.id != "" {
		return im.acct.id, nil
	}
	d, err := im.c.Drive(ctx)
	if err != nil {
		return "", fmt.Errorf("onedrive: which drive: %w", err)
	}
	im.acct.id = d.ID
	return d.ID, nil
}

var _ importers.Accounter = (*Importer)(nil)

// ledgerKey is the bucket of the ledger this importer's records live in.
func (im *Importer) ledgerKey(ctx context.Context) (string, error) {
	return importers.LedgerKey(ctx, im)
}
