// Package statedir finds where miexit keeps its state (ledger, default
// snapshots) and its configuration (tokens), honouring MIEXIT_STATE_DIR and
// MIEXIT_CONFIG_DIR so tests and scripts can move them.
package statedir

import (
	"os"
	"path/filepath"
)

// State returns the folder for the ledger and default snapshots:
// $MIEXIT_STATE_DIR, else $XDG_STATE_HOME/miexit, else ~/.local/state/miexit.
func State() string {
	if d := os.Getenv("MIEXIT_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "miexit")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "miexit")
	}
	return filepath.Join(os.TempDir(), "miexit-state")
}

// Config returns the folder for configuration and tokens:
// $MIEXIT_CONFIG_DIR, else the OS user config dir + /miexit.
func Config() string {
	if d := os.Getenv("MIEXIT_CONFIG_DIR"); d != "" {
		return d
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "miexit")
	}
	return filepath.Join(State(), "config")
}

// Ledger is the ledger file inside a state folder.
func Ledger(state string) string { return filepath.Join(state, "ledger.db") }
