package dropboxtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox"
	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/auth"
	"github.com/dropbox/dropbox-sdk-go-unofficial/v6/dropbox/files"

	"github.com/miexit/miexit/internal/dropboxhash"
)

const tok = "tok"

// client is the real SDK pointed at the fake. Paths here are ASCII: the
// SDK does not escape Dropbox-API-Arg itself.
func client(t *testing.T, s *Server, token string) files.ContextClient {
	return files.NewContext(dropbox.Config{Token: token, URLGenerator: s.URLGenerator})
}

func add() *files.WriteMode { return &files.WriteMode{Tagged: dropbox.Tagged{Tag: files.WriteModeAdd}} }

func upload(t *testing.T, c files.ContextClient, p, data string) (*files.FileMetadata, error) {
	t.Helper()
	return c.UploadContext(context.Background(), &files.UploadArg{CommitInfo: files.CommitInfo{Path: p, Mode: add()}}, strings.NewReader(data))
}

func TestBearerTokenChecked(t *testing.T) {
	s := New(t, tok)
	_, err := upload(t, client(t, s, "wrong"), "/a.txt", "x")
	var ae auth.AuthAPIError
	if !errors.As(err, &ae) || ae.AuthError == nil || ae.AuthError.Tag != auth.AuthErrorInvalidAccessToken {
		t.Fatalf("err = %#v, want invalid_access_token", err)
	}
	if len(s.Files()) != 0 || s.Writes() != 0 {
		t.Error("a refused request changed state")
	}
}

func TestRawUTF8HeaderRefused(t *testing.T) {
	s := New(t, tok)
	_, err := upload(t, client(t, s, tok), "/照片.jpg", "x")
	if err == nil || !strings.Contains(err.Error(), "Dropbox-API-Arg") {
		t.Fatalf("err = %v, want a refusal of the raw header", err)
	}
}

func TestPathsAreCaseInsensitive(t *testing.T) {
	s := New(t, tok)
	c := client(t, s, tok)
	m, err := upload(t, c, "/Photos/IMG_1.JPG", "one")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := dropboxhash.Hex(strings.NewReader("one")); m.ContentHash != want {
		t.Errorf("content_hash %s, want %s", m.ContentHash, want)
	}
	// Same bytes under another casing: a no-op, as Dropbox does.
	if m2, err := upload(t, c, "/photos/img_1.jpg", "one"); err != nil || m2.Rev != m.Rev {
		t.Errorf("identical re-upload: %v, rev %v vs %v", err, m2, m.Rev)
	}
	// Different bytes: a conflict, nothing overwritten.
	_, err = upload(t, c, "/photos/img_1.jpg", "two")
	var ue files.UploadAPIError
	if !errors.As(err, &ue) || ue.EndpointError.Path == nil || ue.EndpointError.Path.Reason.Tag != files.WriteErrorConflict {
		t.Fatalf("err = %v, want path/conflict", err)
	}
	md, err := c.GetMetadataContext(context.Background(), &files.GetMetadataArg{Path: "/PHOTOS/img_1.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if f := md.(*files.FileMetadata); f.PathDisplay != "/Photos/IMG_1.JPG" {
		t.Errorf("path_display %q keeps the first casing", f.PathDisplay)
	}
}

func TestContentHashArgumentChecked(t *testing.T) {
	s := New(t, tok)
	_, err := client(t, s, tok).UploadContext(context.Background(), &files.UploadArg{CommitInfo: files.CommitInfo{Path: "/a", Mode: add()}, ContentHash: strings.Repeat("0", 64)}, strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "content_hash_mismatch") {
		t.Fatalf("err = %v, want content_hash_mismatch", err)
	}
}

func TestSessionsAndBatchCommit(t *testing.T) {
	s := New(t, tok)
	c := client(t, s, tok)
	ctx := context.Background()
	start := func(data string, close bool) string {
		r, err := c.UploadSessionStartContext(ctx, &files.UploadSessionStartArg{Close: close}, strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return r.SessionId
	}
	open := start("abc", false)
	err := c.UploadSessionAppendV2Context(ctx, &files.UploadSessionAppendArg{Cursor: &files.UploadSessionCursor{SessionId: open, Offset: 1}}, strings.NewReader("d"))
	var ae files.UploadSessionAppendV2APIError
	if !errors.As(err, &ae) || ae.EndpointError.IncorrectOffset == nil || ae.EndpointError.IncorrectOffset.CorrectOffset != 3 {
		t.Fatalf("wrong offset: %v, want incorrect_offset 3", err)
	}
	closed := start("xyz", true)
	entry := func(id string, off uint64, p string) *files.UploadSessionFinishArg {
		return &files.UploadSessionFinishArg{Cursor: &files.UploadSessionCursor{SessionId: id, Offset: off}, Commit: &files.CommitInfo{Path: p, Mode: add(), ClientModified: ptr(dropbox.DBXTime(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)))}}
	}
	res, err := c.UploadSessionFinishBatchV2Context(ctx, &files.UploadSessionFinishBatchArg{Entries: []*files.UploadSessionFinishArg{
		entry(open, 3, "/open.txt"), entry(closed, 3, "/closed.txt"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Entries[0]; e.Tag != "failure" || e.Failure.LookupFailed == nil || e.Failure.LookupFailed.Tag != files.UploadSessionLookupErrorNotClosed {
		t.Errorf("unclosed session in a batch: %+v, want lookup_failed/not_closed", e)
	}
	if e := res.Entries[1]; e.Tag != "success" || e.Success.Size != 3 || !time.Time(e.Success.ClientModified).Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("closed session: %+v", e)
	}
	// Close the open one with its last append, then finish.
	if err := c.UploadSessionAppendV2Context(ctx, &files.UploadSessionAppendArg{Cursor: &files.UploadSessionCursor{SessionId: open, Offset: 3}, Close: true}, strings.NewReader("d")); err != nil {
		t.Fatal(err)
	}
	m, err := c.UploadSessionFinishContext(ctx, entry(open, 4, "/open.txt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := s.ReadFile("/open.txt"); string(data) != "abcd" || m.Size != 4 {
		t.Errorf("finished file %q size %d", data, m.Size)
	}
	var many []*files.UploadSessionFinishArg
	for i := range MaxBatchEntries + 1 {
		many = append(many, entry("none", 0, fmt.Sprintf("/m%d", i)))
	}
	if _, err := c.UploadSessionFinishBatchV2Context(ctx, &files.UploadSessionFinishBatchArg{Entries: many}); !errors.As(err, new(auth.BadRequest)) {
		t.Errorf("%d entries: %v, want 400", len(many), err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestListFolderPagesThroughCursors(t *testing.T) {
	s := New(t, tok)
	s.PageSize = 2
	for i := range 5 {
		if err := s.Put(fmt.Sprintf("/Root/d%d/f%d.txt", i%2, i), []byte{byte(i)}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	c := client(t, s, tok)
	ctx := context.Background()
	res, err := c.ListFolderContext(ctx, &files.ListFolderArg{Path: "/root", Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	var filesSeen, folders int
	for pages := 1; ; pages++ {
		for _, e := range res.Entries {
			switch e.(type) {
			case *files.FileMetadata:
				filesSeen++
			case *files.FolderMetadata:
				folders++
			}
		}
		if !res.HasMore {
			if pages < 3 {
				t.Errorf("%d pages, want several", pages)
			}
			break
		}
		if res, err = c.ListFolderContinueContext(ctx, &files.ListFolderContinueArg{Cursor: res.Cursor}); err != nil {
			t.Fatal(err)
		}
	}
	if filesSeen != 5 || folders != 2 {
		t.Errorf("listed %d files and %d folders, want 5 and 2", filesSeen, folders)
	}
	_, err = c.ListFolderContext(ctx, &files.ListFolderArg{Path: "/nowhere"})
	var le files.ListFolderAPIError
	if !errors.As(err, &le) || le.EndpointError.Path == nil || le.EndpointError.Path.Tag != files.LookupErrorNotFound {
		t.Errorf("missing folder: %v, want path/not_found", err)
	}
}

func TestInjectedFaults(t *testing.T) {
	s := New(t, tok)
	c := client(t, s, tok)
	s.Inject(Fault{Route: RouteUpload, Status: 429, Reason: "too_many_write_operations", RetryAfter: 300 * time.Second})
	s.Inject(Fault{Route: RouteUpload, Status: 503})
	_, err := upload(t, c, "/a", "x")
	var rl auth.RateLimitAPIError
	if !errors.As(err, &rl) || rl.RateLimitError.Reason.Tag != auth.RateLimitReasonTooManyWriteOperations || rl.RateLimitError.RetryAfter != 300 {
		t.Fatalf("first: %v, want 429 too_many_write_operations retry_after 300", err)
	}
	if _, err := upload(t, c, "/a", "x"); !errors.As(err, new(auth.ServerError)) {
		t.Fatalf("second: %v, want a server error", err)
	}
	if _, err := upload(t, c, "/a", "x"); err != nil {
		t.Fatalf("third: %v", err)
	}
	if s.Count(RouteUpload) != 3 || s.Writes() != 1 {
		t.Errorf("count %d writes %d, want 3 and 1", s.Count(RouteUpload), s.Writes())
	}
}

// With KeepNoBytes (for benchmarks) uploads are sized, hashed and checked
// as ever, but a read of their bytes fails instead of answering nothing,
// and a session whose chunk was refused cannot be committed with a hash
// that has the refused bytes in it.
func TestKeepNoBytesStillChecksEveryUpload(t *testing.T) {
	s := New(t, tok)
	s.KeepNoBytes = true
	c := client(t, s, tok)
	ctx := context.Background()
	if _, err := upload(t, c, "/one.txt", "one"); err != nil {
		t.Fatal(err)
	}
	r, err := c.UploadSessionStartContext(ctx, &files.UploadSessionStartArg{}, strings.NewReader("ab"))
	if err != nil {
		t.Fatal(err)
	}
	cur := func(off uint64) *files.UploadSessionCursor {
		return &files.UploadSessionCursor{SessionId: r.SessionId, Offset: off}
	}
	if err := c.UploadSessionAppendV2Context(ctx, &files.UploadSessionAppendArg{Cursor: cur(2)}, strings.NewReader("cd")); err != nil {
		t.Fatal(err)
	}
	m, err := c.UploadSessionFinishContext(ctx, &files.UploadSessionFinishArg{Cursor: cur(4), Commit: &files.CommitInfo{Path: "/two.txt", Mode: add()}}, strings.NewReader("e"))
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range map[string]string{"/one.txt": "one", "/two.txt": "abcde"} {
		f, ok := s.Stat(p)
		want, _ := dropboxhash.Hex(strings.NewReader(data))
		if !ok || f.Size != int64(len(data)) || f.ContentHash != want {
			t.Errorf("%s: %+v, want size %d and content_hash %s", p, f, len(data), want)
		}
		if _, err := s.ReadFile(p); !errors.Is(err, errDropped) {
			t.Errorf("ReadFile(%s) = %v, want errDropped", p, err)
		}
	}
	if m.Size != 5 {
		t.Errorf("session upload size %d, want 5", m.Size)
	}
	if _, _, err := c.DownloadContext(ctx, &files.DownloadArg{Path: "/one.txt"}); err == nil {
		t.Error("a download of bytes not kept succeeded")
	}
	if _, err := c.UploadContext(ctx, &files.UploadArg{CommitInfo: files.CommitInfo{Path: "/a", Mode: add()}, ContentHash: strings.Repeat("0", 64)}, strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "content_hash_mismatch") {
		t.Fatalf("err = %v, want content_hash_mismatch", err)
	}
	// A refused chunk spoils its session.
	r, err = c.UploadSessionStartContext(ctx, &files.UploadSessionStartArg{}, strings.NewReader("ab"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UploadSessionAppendV2Context(ctx, &files.UploadSessionAppendArg{Cursor: cur(2), ContentHash: strings.Repeat("0", 64)}, strings.NewReader("cd")); err == nil {
		t.Fatal("a chunk with a wrong content_hash was taken")
	}
	if _, err := c.UploadSessionFinishContext(ctx, &files.UploadSessionFinishArg{Cursor: cur(2), Commit: &files.CommitInfo{Path: "/three.txt", Mode: add()}}, strings.NewReader("cd")); err == nil {
		t.Fatal("a session spoilt by a refused chunk was committed")
	}
	if _, ok := s.Stat("/three.txt"); ok {
		t.Error("/three.txt exists")
	}
}
