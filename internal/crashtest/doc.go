// Package crashtest holds black-box reliability and security tests of the
// miexit binary: it builds cmd/miexit once, runs it as a subprocess against
// the local fakes (a folder, the fake Google, the fake Dropbox), kills it at
// seeded random points and checks a re-run finishes with nothing lost and
// nothing duplicated, and checks tokens never reach the output.
//
// It has no production code; see docs/reliability.md for the soak command.
package crashtest
