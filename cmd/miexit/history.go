package main

import (
	"fmt"

	"github.com/miexit/miexit/internal/migrate"
	"github.com/miexit/miexit/internal/verify"
)

// recordVerify saves a verify result for `miexit checklist`. A failure
// costs the history, never the verify: it is reported with what it means.
func (g *globals) recordVerify(from string, res verify.Result) {
	if err := migrate.RecordVerify(g.stateDir, from, res); err != nil {
		fmt.Fprintf(g.stderr, "miexit: %v\n", err)
	}
}
