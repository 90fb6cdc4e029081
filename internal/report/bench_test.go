package report

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// BenchmarkWriteConversations writes pages for 20,000 messages in 200
// conversations.
func BenchmarkWriteConversations(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 20000 {
		m := mapping.Message{Key: fmt.Sprint(i), Box: 1 + i%2, Address: fmt.Sprintf("+86138%08d", i%200), Date: t0.Add(time.Duration(i) * time.Minute), Body: "message body with an emoji 😀 and <tags>"}
		if err := w.AddMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	snap, err := snapshot.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := WriteConversations(ctx, snap, b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
}
