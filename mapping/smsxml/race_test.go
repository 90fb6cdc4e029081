//go:build race

package smsxml

// raceEnabled shortens the 100,000-message run, which the race detector
// slows tenfold.
const raceEnabled = true
