// Package ordered runs work ahead of the code that uses its results and
// hands the results back in the order the work was given: N workers,
// bounded memory, cancellation through a context, and the first error in
// that order. The exports use it wherever reading, hashing or downloading
// ahead must not change what a sequential run would write (the manifest's
// order above all).
package ordered

import (
	"context"
	"iter"
	"sync"
)

// Options size a Queue.
type Options struct {
	// Workers is how many jobs run at once (Go); 1 when unset.
	Workers int
	// Ahead bounds the results in flight, queued, running or done and not
	// yet taken: Go and Put block while that many are waiting, so memory
	// stays at Ahead results whatever the input's length. 1 when unset.
	Ahead int
}

// Queue is an ordered, bounded hand-off from one producer goroutine (Go,
// Put, then Close) to one consumer goroutine (Next). Jobs run on up to Workers goroutines; the
// consumer gets results strictly in the order they were queued.
type Queue[R any] struct {
	ctx     context.Context
	cancel  context.CancelFunc
	workers int
	pending chan *slot[R]
	jobs    chan *slot[R]
	started int
	close   sync.Once
}

type slot[R any] struct {
	job  func(context.Context) (R, error)
	v    R
	err  error
	done chan struct{} // nil for a value put ready
}

// New makes a queue whose jobs see a context derived from ctx, cancelled
// by Stop.
func New[R any](ctx context.Context, opt Options) *Queue[R] {
	ctx, cancel := context.WithCancel(ctx)
	ahead := max(opt.Ahead, 1)
	return &Queue[R]{
		ctx: ctx, cancel: cancel, workers: max(opt.Workers, 1),
		pending: make(chan *slot[R], ahead),
		// Unstarted jobs are never more than the slots not yet done: the
		// Ahead pending ones and the one the consumer waits on.
		jobs: make(chan *slot[R], ahead+1),
	}
}

// Context is the queue's context: done once Stop was called (or the
// parent is done). A producer does its own I/O under it.
func (q *Queue[R]) Context() context.Context { return q.ctx }

func (q *Queue[R]) push(s *slot[R]) error {
	if err := q.ctx.Err(); err != nil {
		return err
	}
	select {
	case q.pending <- s:
		return nil
	case <-q.ctx.Done():
		return q.ctx.Err()
	}
}

// Go queues job to run on a worker. It blocks while Ahead results wait,
// and fails only once the queue is stopped.
func (q *Queue[R]) Go(job func(ctx context.Context) (R, error)) error {
	s := &slot[R]{job: job, done: make(chan struct{})}
	if err := q.push(s); err != nil {
		return err
	}
	if q.started < q.workers {
		q.started++
		go q.work()
	}
	q.jobs <- s
	return nil
}

// Put queues a result that needs no work, in its place in the order.
func (q *Queue[R]) Put(v R) error { return q.push(&slot[R]{v: v}) }

// Close says nothing more will be queued. The producer calls it once,
// after its last Go or Put, whatever happened.
func (q *Queue[R]) Close() {
	q.close.Do(func() {
		close(q.jobs)
		close(q.pending)
	})
}

func (q *Queue[R]) work() {
	for s := range q.jobs {
		if err := q.ctx.Err(); err != nil {
			s.err = err
		} else {
			s.v, s.err = s.job(q.ctx)
		}
		s.job = nil
		close(s.done)
	}
}

// Next waits for the next result in order. ok is false once the producer
// has closed the queue and every result was taken. After Next has
// returned !ok, every job has returned.
func (q *Queue[R]) Next() (v R, ok bool, err error) {
	s, ok := <-q.pending
	if !ok {
		return v, false, nil
	}
	if s.done != nil {
		<-s.done
	}
	return s.v, true, s.err
}

// Stop cancels the queue's context: jobs not started are not run (their
// result is the context's error), Go and Put fail, so the producer winds
// down. The consumer should go on calling Next until !ok (Drain) to let
// go of what was queued.
func (q *Queue[R]) Stop() { q.cancel() }

// Drain stops the queue and takes every remaining result, passing each to
// release (may be nil), until the producer has closed it.
func (q *Queue[R]) Drain(release func(R)) {
	q.cancel()
	for {
		v, ok, _ := q.Next()
		if !ok {
			return
		}
		if release != nil {
			release(v)
		}
	}
}

// Run runs produce on its own goroutine, queueing work with q.Go and
// q.Put, and consume on the caller's, with the results in the order they
// were queued. The first error in that order (a job's or consume's) stops
// everything and is returned; produce's own error is returned after every
// result it queued before it was consumed, as a sequential loop would.
// Run returns only after produce and every job have returned.
func Run[R any](ctx context.Context, opt Options, produce func(q *Queue[R]) error, consume func(R) error) error {
	q := New[R](ctx, opt)
	defer q.cancel()
	perr := make(chan error, 1)
	go func() {
		defer q.Close()
		perr <- produce(q)
	}()
	var err error
	for {
		v, ok, jerr := q.Next()
		if !ok {
			break
		}
		if err != nil {
			continue // draining after a failure
		}
		if jerr == nil {
			jerr = consume(v)
		}
		if jerr != nil {
			err = jerr
			q.Stop()
		}
	}
	if pe := <-perr; err == nil {
		err = pe
	}
	return err
}

// Sink consumes results in order on its own goroutine while the caller
// produces them: the reverse of Run, for a producer that must stay on the
// caller's goroutine (a range loop, a callback).
type Sink[R any] struct {
	q    *Queue[R]
	done chan struct{}
	err  error
	mu   sync.Mutex
}

// NewSink starts consume on its own goroutine.
func NewSink[R any](ctx context.Context, opt Options, consume func(R) error) *Sink[R] {
	s := &Sink[R]{q: New[R](ctx, opt), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			v, ok, err := s.q.Next()
			if !ok {
				return
			}
			if s.failed() != nil {
				continue
			}
			if err == nil {
				err = consume(v)
			}
			if err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				s.q.Stop()
			}
		}
	}()
	return s
}

func (s *Sink[R]) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Go queues a job whose result is consumed in its turn. After a failure
// it returns that failure (or the context's error).
func (s *Sink[R]) Go(job func(ctx context.Context) (R, error)) error {
	if err := s.failed(); err != nil {
		return err
	}
	if err := s.q.Go(job); err != nil {
		if ferr := s.failed(); ferr != nil {
			return ferr
		}
		return err
	}
	return nil
}

// Put queues a ready value.
func (s *Sink[R]) Put(v R) error {
	if err := s.failed(); err != nil {
		return err
	}
	if err := s.q.Put(v); err != nil {
		if ferr := s.failed(); ferr != nil {
			return ferr
		}
		return err
	}
	return nil
}

// Wait closes the input, waits until everything queued was consumed (or
// dropped after a failure) and returns the first error in order. It may
// be called more than once.
func (s *Sink[R]) Wait() error {
	s.q.Close()
	<-s.done
	s.q.cancel()
	return s.failed()
}

// Ahead runs seq on its own goroutine, up to depth batches of batch values
// ahead of the caller, and yields its values in order. It returns only
// after that goroutine has stopped, so whatever seq reads is never used
// after the caller has moved on (and closed it).
func Ahead[T any](ctx context.Context, seq iter.Seq2[T, error], batch, depth int) iter.Seq2[T, error] {
	type item struct {
		v   T
		err error
	}
	batch = max(batch, 1)
	return func(yield func(T, error) bool) {
		q := New[[]item](ctx, Options{Ahead: depth})
		done := make(chan struct{})
		complete := false // set before done closes
		go func() {
			defer close(done)
			defer q.Close()
			b := make([]item, 0, batch)
			for v, err := range seq {
				b = append(b, item{v, err})
				if len(b) == batch || err != nil {
					if q.Put(b) != nil {
						return
					}
					b = make([]item, 0, batch)
				}
			}
			if len(b) > 0 && q.Put(b) != nil {
				return
			}
			complete = true
		}()
		defer func() {
			q.Drain(nil)
			<-done
		}()
		for {
			b, ok, _ := q.Next()
			if !ok {
				<-done
				if !complete {
					// Cut short by the context, not the end of seq.
					var zero T
					yield(zero, context.Cause(q.ctx))
				}
				return
			}
			for _, it := range b {
				if !yield(it.v, it.err) {
					return
				}
			}
		}
	}
}
