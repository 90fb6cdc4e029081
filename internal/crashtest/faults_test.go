package crashtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestKillAndResumeUnderFaults is TestKillAndResume with the fakes
// failing a seeded handful of requests, which the killed run or the re-run
// meets: a 429, 500 or 503, a connection reset before the work, or an
// answer cut short after it. Half the faults strike any call, half the
// destination's upload calls. Retries must not upload anything twice.
func TestKillAndResumeUnderFaults(t *testing.T) {
	t.Parallel()
	n := max(iterations(t)/4, 1)
	for di, d := range destinations {
		if d.name == "dir" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			// Most of an iteration is retry waits: the fakes run side by side.
			t.Parallel()
			want := baseline(t, d)
			tried := map[string]int{}
			for i := range n {
				seed := uint64(i)
				r := rand.New(rand.NewPCG(seed, 200+uint64(di)))
				faults := randomFaults(r, 1+r.IntN(4), tried)
				delay := time.Duration(1+r.IntN(300)) * time.Millisecond
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					t.Logf("faults %v, kill after %v", faults, delay)
					fd := d
					fresh := d.fresh
					fd.fresh = func(t *testing.T, _ ...fault) (string, []string, func(*testing.T, bool) []string) {
						return fresh(t, faults...)
					}
					_, _ = killAndResume(t, fd, delay, seed%2 == 1, 0, want)
				})
			}
			t.Logf("%s: %d iterations under faults %v", d.name, n, tried)
		})
	}
}

// randomFaults draws n faults, counting their kinds in tried.
func randomFaults(r *rand.Rand, n int, tried map[string]int) []fault {
	var faults []fault
	for range n {
		f := fault{times: 1 + r.IntN(2), write: r.IntN(2) == 1, pick: r.IntN(8)}
		kind := ""
		switch k := r.IntN(5); k {
		case 3:
			f.net, kind = "reset", "reset"
		case 4:
			f.net, kind = "truncate", "truncate"
		default:
			f.status = []int{429, 500, 503}[k]
			kind = strconv.Itoa(f.status)
		}
		faults = append(faults, f)
		tried[kind] += f.times
	}
	return faults
}

// TestFaultsUploadOnce runs one `migrate` per seeded iteration against a
// fake failing 2-6 of its requests (any call or an upload call; 429,
// 500, 503, a reset before the work, an answer cut short after it): the
// run must finish on its own, verify must pass, and the destination must
// hold exactly what a run without faults leaves: each upload landed once,
// none twice, no conflict copy.
func TestFaultsUploadOnce(t *testing.T) {
	t.Parallel()
	n := iterations(t)
	for di, d := range destinations {
		if d.name == "dir" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			want := baseline(t, d)
			tried := map[string]int{}
			for i := range n {
				seed := uint64(i)
				r := rand.New(rand.NewPCG(seed, 300+uint64(di)))
				faults := randomFaults(r, 2+r.IntN(5), tried)
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					to, vars, list := d.fresh(t, faults...)
					e := newEnv(t, vars...)
					res := e.run(t, "", "migrate", "--from", "archive:"+src, "--to", to, "--json")
					if res.code != 0 {
						t.Fatalf("migrate under faults %v: exit %d\n%s", faults, res.code, res.stderr)
					}
					if v, _ := summary(t, res.stdout)["verify"].(map[string]any); v["ok"] != true {
						t.Fatalf("migrate under faults %v: verify %v", faults, v)
					}
					if got := list(t, true); !slices.Equal(got, want) {
						t.Errorf("under faults %v the destination differs from a run without:\n%s", faults, diff(want, got))
					}
				})
			}
			t.Logf("%s: %d runs under faults (kind: requests failed) %v", d.name, n, tried)
		})
	}
}
