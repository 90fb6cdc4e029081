package crashtest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestKillAndResumeUnderFaults is TestKillAndResume with the fakes
// answering 429, 500 or 503 to a seeded handful of requests, which the
// killed run or the re-run meets: retries must not upload anything twice.
func TestKillAndResumeUnderFaults(t *testing.T) {
	t.Parallel()
	n := max(iterations(t)/5, 1)
	for di, d := range destinations {
		if d.name == "dir" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			want := baseline(t, d)
			for i := range n {
				seed := uint64(i)
				r := rand.New(rand.NewPCG(seed, 200+uint64(di)))
				var faults []fault
				for range 1 + r.IntN(3) {
					faults = append(faults, fault{[]int{429, 500, 503}[r.IntN(3)], 1 + r.IntN(2)})
				}
				delay := time.Duration(1+r.IntN(300)) * time.Millisecond
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					t.Logf("faults %v, kill after %v", faults, delay)
					fd := d
					fresh := d.fresh
					fd.fresh = func(t *testing.T, _ ...fault) (string, []string, func(*testing.T, bool) []string) {
						return fresh(t, faults...)
					}
					_, _ = killAndResume(t, fd, delay, seed%2 == 1, want)
				})
			}
		})
	}
}
