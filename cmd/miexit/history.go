package main

import (
	"fmt"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/internal/verifylog"
)

// recordVerify saves a verify result for `miexit checklist`. from is what
// the user verified from: a source, or a snapshot folder whose manifest names
// its source. A failure costs the history, never the verify: it is reported
// with what it means.
func (g *globals) recordVerify(from string, res verify.Result) {
	if res.Destination == "" {
		return
	}
	source := from
	if r, err := snapshot.Open(from); err == nil && r.Source() != "" {
		source = r.Source()
	}
	if err := verifylog.Save(g.stateDir, res, source); err != nil {
		fmt.Fprintf(g.stderr, "miexit: %v; `miexit checklist` will not know about this verify: check that the state dir is writable, then verify again\n", err)
	}
}
