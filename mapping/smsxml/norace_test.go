//go:build !race

package smsxml

const raceEnabled = false
