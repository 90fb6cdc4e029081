//go:build !unix

package backup

// lockRoot is a no-op where flock does not exist; the ledger's own lock
// still keeps two runs with one state folder apart.
func lockRoot(string) (func(), error) { return func() {}, nil }
