package adb

import (
	"context"
	"sync"

	"github.com/miexit/miexit/internal/snapshot"
)

// messageAdder adds prepared messages to the snapshot on its own
// goroutine, in the order they were sent: reading the phone's text,
// turning rows into messages and encoding them (snapshot.PrepareMessage),
// and writing them then run side by side.
type messageAdder struct {
	ch   chan *snapshot.PreparedMessage
	done chan struct{}
	once sync.Once

	mu  sync.Mutex
	err error
}

func newMessageAdder(ctx context.Context, w *snapshot.Writer) *messageAdder {
	a := &messageAdder{ch: make(chan *snapshot.PreparedMessage, 512), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for p := range a.ch {
			if a.failed() != nil {
				continue // drain, so senders never block
			}
			if err := w.AddPrepared(ctx, p); err != nil {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
		}
	}()
	return a
}

func (a *messageAdder) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// add queues p, or returns the error that stopped the adder.
func (a *messageAdder) add(p *snapshot.PreparedMessage) error {
	if err := a.failed(); err != nil {
		return err
	}
	a.ch <- p
	return nil
}

// wait adds what is queued and returns the first error.
func (a *messageAdder) wait() error {
	a.once.Do(func() { close(a.ch) })
	<-a.done
	return a.failed()
}
