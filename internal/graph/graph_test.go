package graph_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/miexit/miexit/internal/graph"
	"github.com/miexit/miexit/internal/graphtest"
	"github.com/miexit/miexit/internal/retry"
)

type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func setup(t *testing.T, token string) (*graphtest.Server, *graph.Client, *sleeps) {
	t.Helper()
	fake := graphtest.NewServer(graphtest.Options{PageSize: 4})
	t.Cleanup(fake.Close)
	if token == "" {
		token = fake.Token()
	}
	sl := &sleeps{}
	c := graph.New(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}), graph.Options{
		Endpoint: fake.Endpoint(), Retry: retry.Policy{Sleep: sl.sleep},
	})
	return fake, c, sl
}

func data(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n)}).Read(b)
	return b
}

func TestChildrenFollowsNextLinkThroughSmallPages(t *testing.T) {
	fake, c, _ := setup(t, "")
	for i := range 10 {
		fake.PutFile(fmt.Sprintf("/Photos/%02d.jpg", i), []byte{byte(i)}, time.Now())
	}
	var names []string
	for it, err := range c.Children(context.Background(), graph.Root, "Photos") {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, it.Name)
	}
	if len(names) != 10 {
		t.Fatalf("listed %d children, want 10: %v", len(names), names)
	}
	if n := fake.Count("list"); n != 3 {
		t.Errorf("%d list requests for 10 children in pages of 4, want 3", n)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	fake, c, _ := setup(t, "")
	ctx := context.Background()
	_, err := c.Item(ctx, graph.Root, "nope/none.jpg")
	var gerr *graph.Error
	if !graph.IsNotFound(err) || !errors.As(err, &gerr) || gerr.Code != "itemNotFound" {
		t.Errorf("missing item: %v", err)
	}
	fake.PutFile("/a.txt", []byte("x"), time.Now())
	_, err = c.PutContent(ctx, graph.Root, "A.TXT", bytes.NewReader([]byte("y")), 1, graph.Fail)
	if !graph.IsConflict(err) {
		t.Errorf("conflictBehavior=fail on an existing name (other case): %v", err)
	}
	_, err = c.PutContent(ctx, graph.Root, "what?.txt", bytes.NewReader([]byte("y")), 1, graph.Fail)
	if !errors.As(err, &gerr) || gerr.Status != http.StatusBadRequest || !retry.IsPermanent(err) {
		t.Errorf("a refused character: %v", err)
	}
}

func TestBadTokenIsRefusedAndNotRetried(t *testing.T) {
	fake, c, _ := setup(t, "wrong-token")
	_, err := c.Item(context.Background(), graph.Root, "")
	var gerr *graph.Error
	if !errors.As(err, &gerr) || gerr.Status != http.StatusUnauthorized {
		t.Fatalf("got %v, want a 401", err)
	}
	if n := fake.Count("unauthorized"); n != 1 {
		t.Errorf("%d refused requests, want 1 (a 401 is not retried)", n)
	}
}

func TestRetryAfterPausesEveryCaller(t *testing.T) {
	fake, c, sl := setup(t, "")
	fake.SetRetryAfter("41")
	fake.FailNext("get", graphtest.Throttle)
	fake.PutFile("/a.txt", []byte("x"), time.Now())
	if _, err := c.Item(context.Background(), graph.Root, "a.txt"); err != nil {
		t.Fatal(err)
	}
	if len(sl.ds) != 1 || sl.ds[0] < 40*time.Second || sl.ds[0] > 41*time.Second {
		t.Errorf("waits %v, want one of 41s", sl.ds)
	}
	// The pause is shared: another caller of the same client waits too.
	sl.ds = nil
	if _, err := c.Item(context.Background(), graph.Root, "a.txt"); err != nil {
		t.Fatal(err)
	}
	if len(sl.ds) != 1 || sl.ds[0] < 30*time.Second {
		t.Errorf("a second call right after waited %v, want the rest of the pause", sl.ds)
	}
}

func TestSessionUploadSendsNoTokenAndResumes(t *testing.T) {
	fake, c, _ := setup(t, "")
	ctx := context.Background()
	body := data(5*graph.FragmentUnit + 1234)
	mod := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	// A session's folder must exist first: Graph does not make it.
	if _, err := c.CreateUploadSession(ctx, graph.AppRoot, "Videos/v.mp4", graph.Fail, graph.FileSystemInfo{}); !graph.IsNotFound(err) {
		t.Fatalf("a session into a missing folder: %v, want itemNotFound", err)
	}
	if _, err := c.CreateFolder(ctx, graph.AppRoot, "", "Videos", graph.Fail); err != nil {
		t.Fatal(err)
	}
	s, err := c.CreateUploadSession(ctx, graph.AppRoot, "Videos/v.mp4", graph.Fail, graph.FileSystemInfo{LastModifiedDateTime: mod})
	if err != nil {
		t.Fatal(err)
	}
	// A fragment is stored but its answer is lost, and the next one
	// fails outright: Upload asks the session and goes on.
	fake.FailNext("fragment", graphtest.LostAnswer)
	fake.FailNext("fragment", graphtest.ServerError)
	var saved []int64
	it, err := c.Upload(ctx, s.UploadURL, bytes.NewReader(body), int64(len(body)), 0, 2*graph.FragmentUnit, func(n int64) error {
		saved = append(saved, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := fake.File("/Apps/miexit/Videos/v.mp4")
	if !ok || !bytes.Equal(f.Data, body) || it.File == nil || it.File.Hashes.QuickXorHash != f.QuickXorHash {
		t.Fatalf("stored %d bytes (ok %v), want %d", len(f.Data), ok, len(body))
	}
	if !f.Modified.Equal(mod) {
		t.Errorf("date %s, want %s from the session", f.Modified, mod)
	}
	if n := fake.Count("unauthorized"); n != 0 {
		t.Errorf("%d requests were refused: the upload URL got a token", n)
	}
	if fake.Count("session-status") == 0 {
		t.Error("Upload did not ask the session where to resume")
	}
	if len(saved) == 0 || saved[len(saved)-1] != 4*graph.FragmentUnit {
		t.Errorf("saved offsets %v", saved)
	}
	if _, err := c.SessionStatus(ctx, s.UploadURL); !errors.Is(err, graph.ErrSessionGone) {
		t.Errorf("status of a finished session: %v", err)
	}
}

func TestUploadURLRefusesABearerToken(t *testing.T) {
	fake, c, _ := setup(t, "")
	s, err := c.CreateUploadSession(context.Background(), graph.Root, "x.bin", graph.Fail, graph.FileSystemInfo{})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.UploadURL, nil)
	req.Header.Set("Authorization", "Bearer "+fake.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token sent to the upload URL got %d, want 401", resp.StatusCode)
	}
}

func TestFakeEnforcesFragmentRules(t *testing.T) {
	fake, c, _ := setup(t, "")
	s, err := c.CreateUploadSession(context.Background(), graph.Root, "x.bin", graph.Fail, graph.FileSystemInfo{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(a, b, total int64) int {
		req, _ := http.NewRequest(http.MethodPut, s.UploadURL, bytes.NewReader(make([]byte, b-a+1)))
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, total))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const u = graph.FragmentUnit
	for _, tc := range []struct {
		name     string
		a, b, n  int64
		wantCode int
	}{
		{"not a multiple of 320 KiB", 0, 1000, 3 * u, http.StatusBadRequest},
		{"out of order", u, 2*u - 1, 3 * u, http.StatusRequestedRangeNotSatisfiable},
		{"first fragment", 0, u - 1, 3 * u, http.StatusAccepted},
		{"total changes", u, 2*u - 1, 4 * u, http.StatusBadRequest},
		{"last fragment may be short", u, 3*u - 1, 3 * u, http.StatusCreated},
	} {
		if got := put(tc.a, tc.b, tc.n); got != tc.wantCode {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.wantCode)
		}
	}
	if _, ok := fake.File("/x.bin"); !ok {
		t.Error("the finished session stored nothing")
	}
}
