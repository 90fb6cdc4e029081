package adb

import (
	"context"

	"github.com/miexit/miexit/internal/ordered"
	"github.com/miexit/miexit/internal/snapshot"
)

// adderAhead bounds the prepared messages waiting to be written.
const adderAhead = 512

// messageAdder adds prepared messages to the snapshot on its own
// goroutine, in the order they were sent: reading the phone's text,
// turning rows into messages and encoding them (snapshot.PrepareMessage),
// and writing them then run side by side.
type messageAdder struct {
	sink *ordered.Sink[*snapshot.PreparedMessage]
}

func newMessageAdder(ctx context.Context, w *snapshot.Writer) *messageAdder {
	return &messageAdder{sink: ordered.NewSink(ctx, ordered.Options{Ahead: adderAhead}, func(p *snapshot.PreparedMessage) error {
		return w.AddPrepared(ctx, p)
	})}
}

// add queues p, or returns the error that stopped the adder.
func (a *messageAdder) add(p *snapshot.PreparedMessage) error { return a.sink.Put(p) }

// wait adds what is queued and returns the first error. It may be called
// more than once.
func (a *messageAdder) wait() error { return a.sink.Wait() }
