package dropbox

import (
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"golang.org/x/oauth2"

	"github.com/miexit/miexit/internal/dropboxtest"
	"github.com/miexit/miexit/internal/ledger"
	"github.com/miexit/miexit/internal/progress"
	"github.com/miexit/miexit/internal/retry"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

const testToken = "test-token-not-a-secret"

// sleeps records the waits the retry policy asked for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type fixture struct {
	t      testing.TB
	srv    *dropboxtest.Server
	sleeps *sleeps
	folder string
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t, srv: dropboxtest.New(t, testToken), sleeps: &sleeps{}, folder: "/miexit/test"}
}

// importer builds an importer on the fake, through the real SDK; cfg may
// adjust the configuration.
func (f *fixture) importer(cfg ...func(*Config)) *Importer {
	c := Config{
		Folder:      f.folder,
		Endpoint:    f.srv.URL,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken, TokenType: "Bearer"}),
		Concurrency: 3,
		Retry:       retry.Policy{Sleep: f.sleeps.sleep},
	}
	for _, fn := range cfg {
		fn(&c)
	}
	im, err := New(c)
	if err != nil {
		f.t.Fatal(err)
	}
	return im
}

func openLedger(t testing.TB) *ledger.Ledger {
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// sample is a small snapshot: media with CJK names and dates, a note, an
// attachment, contacts, messages and calls.
type sampleFile struct {
	path  string
	data  string
	taken time.Time
}

var (
	takenDate = time.Date(2021, 5, 3, 8, 9, 10, 0, time.UTC)
	modDate   = time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
)

func buildSnapshot(t testing.TB, media []sampleFile, attachments []sampleFile) *snapshot.Reader {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	w, err := snapshot.Create(dir, snapshot.Options{Source: "test:"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range media {
		data := m.data
		if err := w.AddMedia(ctx, mapping.Media{Path: m.path, Size: int64(len(data)), ModTime: modDate, Taken: m.taken}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(data)), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range attachments {
		if _, err := w.AddFile(ctx, a.path, strings.NewReader(a.data), modDate); err != nil {
			t.Fatal(err)
		}
	}
	card := vcard.Card{}
	card.SetValue(vcard.FieldFormattedName, "张伟")
	card.SetValue(vcard.FieldTelephone, "+86 138 0013 8000")
	if err := w.AddContact(ctx, mapping.Contact{Key: "c1", Card: card}); err != nil {
		t.Fatal(err)
	}
	msg := mapping.Message{Type: "sms", Box: 1, Address: "10086", Date: modDate, Body: "您好"}
	msg.Key = mapping.MessageKey(&msg)
	if err := w.AddMessage(ctx, msg); err != nil {
		t.Fatal(err)
	}
	call := mapping.Call{Number: "10086", Date: modDate, Duration: 30, Type: 1}
	call.Key = mapping.CallKey(&call)
	if err := w.AddCall(ctx, call); err != nil {
		t.Fatal(err)
	}
	if err := w.AddNote(ctx, mapping.Note{Key: "n1", Folder: "工作", Title: "会议", Body: "要点", Modified: modDate}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func defaultSample(t testing.TB) *snapshot.Reader {
	return buildSnapshot(t, []sampleFile{
		{path: "DCIM/Camera/IMG_20210503_080910.jpg", data: "jpeg bytes one", taken: takenDate},
		{path: "DCIM/相机/照片 一.jpg", data: "jpeg bytes two"},
		{path: "MIUI/sound_recorder/通话录音 😀.mp3", data: "mp3 bytes"},
	}, []sampleFile{
		{path: "messages/attachments/1/part.png", data: "png bytes"},
	})
}

// tally collects progress events.
type tally struct {
	progress.Tally
	mu  sync.Mutex
	evs []progress.Event
}

func (t *tally) Report(e progress.Event) {
	t.Tally.Report(e)
	t.mu.Lock()
	t.evs = append(t.evs, e)
	t.mu.Unlock()
}

func (t *tally) events() []progress.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]progress.Event(nil), t.evs...)
}

// randReader streams n deterministic pseudo-random bytes without holding them.
func randReader(n int64, seed byte) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), n)
}
