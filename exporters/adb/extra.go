package adb

import "context"

// ExtraCounts implements exporters.ExtraCounter: after Inventory, how many
// contacts have a photo the content provider cannot give out (REFERENCE.md:
// photos are served only through openAssetFile).
func (e *Exporter) ExtraCounts(context.Context) (map[string]int, error) {
	return map[string]int{"contact_photos_not_copied": e.PhotosNotCopied()}, nil
}
