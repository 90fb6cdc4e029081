package ordered

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// Results come back in the order the work was given, whatever order the
// workers finish in.
func TestRunKeepsOrderUnderRandomDelays(t *testing.T) {
	const n = 500
	var running, most atomic.Int32
	var got []int
	err := Run(context.Background(), Options{Workers: 8, Ahead: 16}, func(q *Queue[int]) error {
		for i := range n {
			if i%7 == 0 {
				if err := q.Put(i); err != nil {
					return err
				}
				continue
			}
			if err := q.Go(func(context.Context) (int, error) {
				r := running.Add(1)
				for {
					m := most.Load()
					if r <= m || most.CompareAndSwap(m, r) {
						break
					}
				}
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
				running.Add(-1)
				return i, nil
			}); err != nil {
				return err
			}
		}
		return nil
	}, func(v int) error {
		got = append(got, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d results, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("result %d is %d: order lost", i, v)
		}
	}
	if m := most.Load(); m > 8 || m < 2 {
		t.Fatalf("%d jobs ran at once with 8 workers", m)
	}
}

// At most Ahead results wait for the consumer, however slow it is.
func TestAheadBoundsWhatIsInFlight(t *testing.T) {
	var queued, taken, most atomic.Int64
	err := Run(context.Background(), Options{Workers: 4, Ahead: 5}, func(q *Queue[int]) error {
		for i := range 200 {
			if err := q.Go(func(context.Context) (int, error) { return i, nil }); err != nil {
				return err
			}
			if d := queued.Add(1) - taken.Load(); d > most.Load() {
				most.Store(d)
			}
		}
		return nil
	}, func(int) error {
		taken.Add(1)
		time.Sleep(20 * time.Microsecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Ahead waiting, one the consumer holds, one being queued.
	if m := most.Load(); m > 7 {
		t.Fatalf("%d results in flight with Ahead 5", m)
	}
}

// The error returned is the first in input order, even when a later job
// fails sooner, and nothing after it is consumed.
func TestRunReturnsTheFirstErrorInOrder(t *testing.T) {
	early, late := errors.New("item 3"), errors.New("item 9")
	var got []int
	err := Run(context.Background(), Options{Workers: 4, Ahead: 8}, func(q *Queue[int]) error {
		for i := range 20 {
			err := q.Go(func(context.Context) (int, error) {
				switch i {
				case 3:
					time.Sleep(20 * time.Millisecond)
					return 0, early
				case 9:
					return 0, late
				}
				return i, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}, func(v int) error { got = append(got, v); return nil })
	if !errors.Is(err, early) {
		t.Fatalf("got %v, want the error of item 3", err)
	}
	if fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("consumed %v before the error, want [0 1 2]", got)
	}
}

// A producer's error comes after what it queued before failing, and a
// consumer's error stops the producer.
func TestRunProducerAndConsumerErrors(t *testing.T) {
	walk := errors.New("walk failed")
	n := 0
	err := Run(context.Background(), Options{}, func(q *Queue[int]) error {
		for i := range 5 {
			if err := q.Put(i); err != nil {
				return err
			}
		}
		return walk
	}, func(int) error { n++; return nil })
	if !errors.Is(err, walk) || n != 5 {
		t.Fatalf("got %v after %d results, want the walk error after 5", err, n)
	}
	stop := errors.New("disk full")
	produced := 0
	err = Run(context.Background(), Options{Ahead: 2}, func(q *Queue[int]) error {
		for i := range 1_000_000 {
			if err := q.Put(i); err != nil {
				return err
			}
			produced++
		}
		return nil
	}, func(v int) error {
		if v == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || produced > 20 {
		t.Fatalf("got %v with %d produced, want the consumer's error and the producer stopped", err, produced)
	}
}

// Cancelling the context stops jobs that have not started, and Run
// returns the context's error after every job has returned.
func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran, live atomic.Int32
	err := Run(ctx, Options{Workers: 2, Ahead: 4}, func(q *Queue[int]) error {
		for i := 0; ; i++ {
			if i == 10 {
				cancel()
			}
			if err := q.Go(func(ctx context.Context) (int, error) {
				live.Add(1)
				defer live.Add(-1)
				ran.Add(1)
				time.Sleep(time.Millisecond)
				return i, ctx.Err()
			}); err != nil {
				return err
			}
		}
	}, func(int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := live.Load(); n != 0 {
		t.Fatalf("%d jobs still running after Run returned", n)
	}
	if n := ran.Load(); n > 16 {
		t.Fatalf("%d jobs ran after cancel at 10", n)
	}
}

// A Sink consumes in order on its own goroutine; after its consumer fails,
// Go returns that failure and Wait reports it.
func TestSink(t *testing.T) {
	var got []int
	s := NewSink(context.Background(), Options{Workers: 3, Ahead: 6}, func(v int) error {
		got = append(got, v)
		return nil
	})
	for i := range 100 {
		var err error
		if i%2 == 0 {
			err = s.Put(i)
		} else {
			err = s.Go(func(context.Context) (int, error) {
				time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				return i, nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("sink got %d at %d", v, i)
		}
	}
	if len(got) != 100 {
		t.Fatalf("sink got %d values", len(got))
	}

	full := errors.New("disk full")
	s = NewSink(context.Background(), Options{Ahead: 2}, func(v int) error {
		if v == 3 {
			return full
		}
		return nil
	})
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = s.Put(i)
	}
	if !errors.Is(err, full) {
		t.Fatalf("Put after the failure returned %v", err)
	}
	if err := s.Wait(); !errors.Is(err, full) {
		t.Fatalf("Wait returned %v", err)
	}
}

func count(n int, fail error) iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		for i := range n {
			if !yield(i, nil) {
				return
			}
		}
		if fail != nil {
			yield(0, fail)
		}
	}
}

// Ahead yields what seq yields, in order, errors included; breaking out
// early stops seq's goroutine before Ahead returns.
func TestAhead(t *testing.T) {
	bad := errors.New("bad row")
	i := 0
	var last error
	for v, err := range Ahead(context.Background(), count(1000, bad), 64, 3) {
		if err != nil {
			last = err
			break
		}
		if v != i {
			t.Fatalf("value %d at %d", v, i)
		}
		i++
	}
	if i != 1000 || !errors.Is(last, bad) {
		t.Fatalf("%d values then %v", i, last)
	}

	var stopped atomic.Bool
	seq := func(yield func(int, error) bool) {
		defer stopped.Store(true)
		for i := 0; ; i++ {
			if !yield(i, nil) {
				return
			}
		}
	}
	for v := range Ahead(context.Background(), seq, 16, 2) {
		if v == 100 {
			break
		}
	}
	if !stopped.Load() {
		t.Fatal("Ahead returned while its goroutine still ran seq")
	}

	// A cancelled context ends the values with its error, never silently.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var end error
	for _, err := range Ahead(ctx, seq, 8, 2) {
		if err != nil {
			end = err
			break
		}
		if n++; n == 50 {
			cancel()
		}
	}
	if !errors.Is(end, context.Canceled) {
		t.Fatalf("after cancel Ahead ended with %v", end)
	}
}
