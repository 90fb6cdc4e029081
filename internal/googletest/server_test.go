package googletest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/api/people/v1"
)

func clients(t *testing.T, s *Server, token string) (*people.Service, *drive.Service) {
	t.Helper()
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	ps, err := people.NewService(context.Background(), option.WithEndpoint(s.URL+"/"), option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := drive.NewService(context.Background(), option.WithEndpoint(s.URL+"/drive/v3/"), option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return ps, ds
}

func newServer(t *testing.T) *Server {
	s := New()
	t.Cleanup(s.Close)
	return s
}

func apiCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func batch(n int) *people.BatchCreateContactsRequest {
	req := &people.BatchCreateContactsRequest{ReadMask: "names,clientData"}
	for i := range n {
		req.Contacts = append(req.Contacts, &people.ContactToCreate{ContactPerson: &people.Person{
			Names:      []*people.Name{{GivenName: fmt.Sprint("P", i)}},
			ClientData: []*people.ClientData{{Key: "k", Value: fmt.Sprint(i)}},
		}})
	}
	return req
}

func TestBearerTokenRequired(t *testing.T) {
	s := newServer(t)
	ps, ds := clients(t, s, "wrong")
	_, err := ps.People.Connections.List("people/me").PersonFields("names").Do()
	if apiCode(err) != 401 {
		t.Errorf("people without a valid token: %v, want 401", err)
	}
	_, err = ds.Files.List().Do()
	if apiCode(err) != 401 {
		t.Errorf("drive without a valid token: %v, want 401", err)
	}
}

func TestBatchCreateLimitIs200(t *testing.T) {
	s := newServer(t)
	ps, _ := clients(t, s, s.Token)
	if _, err := ps.People.BatchCreateContacts(batch(201)).Do(); apiCode(err) != 400 {
		t.Errorf("201 contacts: %v, want 400", err)
	}
	resp, err := ps.People.BatchCreateContacts(batch(200)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.CreatedPeople) != 200 || resp.CreatedPeople[199].Person.ClientData[0].Value != "199" {
		t.Errorf("200 contacts: got %d back", len(resp.CreatedPeople))
	}
	if len(s.Contacts()) != 200 {
		t.Errorf("account holds %d", len(s.Contacts()))
	}
}

func TestConcurrentMutateIsRejected(t *testing.T) {
	s := newServer(t)
	ps, _ := clients(t, s, s.Token)
	inside, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.OnMutate = func() {
		once.Do(func() {
			close(inside)
			<-release
		})
	}
	errc := make(chan error)
	go func() {
		_, err := ps.People.BatchCreateContacts(batch(1)).Do()
		errc <- err
	}()
	<-inside
	_, err := ps.People.BatchCreateContacts(batch(1)).Do()
	close(release)
	if apiCode(err) != 409 {
		t.Errorf("second mutate while the first runs: %v, want 409", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("first mutate: %v", err)
	}
}

func TestConnectionsPageWithClientData(t *testing.T) {
	s := newServer(t)
	ps, _ := clients(t, s, s.Token)
	for range 3 {
		if _, err := ps.People.BatchCreateContacts(batch(200)).Do(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ps.People.Connections.List("people/me").Do(); apiCode(err) != 400 {
		t.Errorf("no personFields: %v, want 400", err)
	}
	n, pages := 0, 0
	err := ps.People.Connections.List("people/me").PersonFields("clientData").PageSize(250).Pages(context.Background(), func(r *people.ListConnectionsResponse) error {
		pages++
		for _, p := range r.Connections {
			if len(p.ClientData) != 1 || len(p.Names) != 0 {
				return fmt.Errorf("mask not applied: %+v", p)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 600 || pages != 3 {
		t.Errorf("listed %d in %d pages, want 600 in 3", n, pages)
	}
}

func TestGroupsMembersAndPhoto(t *testing.T) {
	s := newServer(t)
	ps, _ := clients(t, s, s.Token)
	resp, err := ps.People.BatchCreateContacts(batch(2)).Do()
	if err != nil {
		t.Fatal(err)
	}
	rn := resp.CreatedPeople[0].Person.ResourceName
	g, err := ps.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Family"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Family"}}).Do(); apiCode(err) != 409 {
		t.Errorf("duplicate group: %v, want 409", err)
	}
	if _, err := ps.ContactGroups.Members.Modify(g.ResourceName, &people.ModifyContactGroupMembersRequest{ResourceNamesToAdd: []string{rn}}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.People.UpdateContactPhoto(rn, &people.UpdateContactPhotoRequest{PhotoBytes: "bm90IGFuIGltYWdl"}).Do(); apiCode(err) != 400 {
		t.Errorf("non-image photo: %v, want 400", err)
	}
	if _, err := ps.People.UpdateContactPhoto(rn, &people.UpdateContactPhotoRequest{PhotoBytes: "/9j/4AAQ"}).Do(); err != nil {
		t.Fatal(err)
	}
	var got *people.Person
	ps.People.Connections.List("people/me").PersonFields("memberships,photos").Pages(context.Background(), func(r *people.ListConnectionsResponse) error {
		for _, p := range r.Connections {
			if p.ResourceName == rn {
				got = p
			}
		}
		return nil
	})
	if got == nil || len(got.Memberships) != 2 || got.Photos[0].Default {
		t.Errorf("contact after label and photo: %+v", got)
	}
}

func TestInjectedFaults(t *testing.T) {
	s := newServer(t)
	_, ds := clients(t, s, s.Token)
	s.Inject(Fault{Endpoint: EPFilesList, Status: 403, Reason: "userRateLimitExceeded"})
	s.Inject(Fault{Endpoint: EPFilesList, Status: 429, RetryAfter: "7"})
	_, err := ds.Files.List().Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 403 || len(ge.Errors) == 0 || ge.Errors[0].Reason != "userRateLimitExceeded" {
		t.Errorf("first fault: %v", err)
	}
	_, err = ds.Files.List().Do()
	if !errors.As(err, &ge) || ge.Code != 429 || ge.Header.Get("Retry-After") != "7" {
		t.Errorf("second fault: %v", err)
	}
	if _, err := ds.Files.List().Do(); err != nil {
		t.Errorf("after the faults: %v", err)
	}
	if s.Count(EPFilesList) != 3 {
		t.Errorf("files.list counted %d", s.Count(EPFilesList))
	}
}

func TestDriveCreateListQueryAndChecksums(t *testing.T) {
	s := newServer(t)
	_, ds := clients(t, s, s.Token)
	dir, err := ds.Files.Create(&drive.File{Name: "miexit", MimeType: FolderMIME}).Do()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		_, err := ds.Files.Create(&drive.File{Name: fmt.Sprintf("it's %d.txt", i), Parents: []string{dir.Id},
			AppProperties: map[string]string{"n": fmt.Sprint(i % 2)}, ModifiedTime: "2020-01-02T03:04:05Z"}).
			Media(strings.NewReader(fmt.Sprint("body ", i)), googleapi.ChunkSize(0)).Do()
		if err != nil {
			t.Fatal(err)
		}
	}
	q := fmt.Sprintf("'%s' in parents and appProperties has { key='n' and value='1' } and name != 'x' and trashed = false", dir.Id)
	var names []string
	err = ds.Files.List().Q(q).PageSize(1).Fields("nextPageToken,files(name,md5Checksum,sha256Checksum,modifiedTime)").Pages(context.Background(), func(r *drive.FileList) error {
		for _, f := range r.Files {
			if f.Md5Checksum == "" || f.Sha256Checksum == "" || f.ModifiedTime != "2020-01-02T03:04:05Z" {
				return fmt.Errorf("fields missing: %+v", f)
			}
			names = append(names, f.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "it's 1.txt,it's 3.txt" {
		t.Errorf("query gave %v", names)
	}
	l, err := ds.Files.List().Q(`name = 'it\'s 0.txt'`).Do()
	if err != nil || len(l.Files) != 1 || l.Files[0].Md5Checksum != "" {
		t.Errorf("escaped name query: %v %+v (checksums only when asked for)", err, l)
	}
	if _, err := ds.Files.List().Q("fullText contains 'x'").Do(); apiCode(err) != 400 {
		t.Errorf("unsupported query: %v, want 400", err)
	}
}

// The Go client sends a file larger than its chunk size resumably; the fake
// must answer in the form it understands.
func TestGoClientResumableUpload(t *testing.T) {
	s := newServer(t)
	_, ds := clients(t, s, s.Token)
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640000 bytes
	f, err := ds.Files.Create(&drive.File{Name: "big.bin"}).Media(bytes.NewReader(data), googleapi.ChunkSize(256<<10)).
		Fields("id,size,md5Checksum").Do()
	if err != nil {
		t.Fatal(err)
	}
	if f.Size != int64(len(data)) || s.Count(EPUploadChunk) != 3 {
		t.Errorf("size %d, chunks %d", f.Size, s.Count(EPUploadChunk))
	}
	got, _ := s.Content(f.Id)
	if !bytes.Equal(got, data) {
		t.Error("bytes differ")
	}
	resp, err := ds.Files.Get(f.Id).Download()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, data) {
		t.Error("download differs")
	}
}

// Without X-GUploader-No-308 the fake answers a bare 308 with Range, as
// Drive's documented protocol says; status queries report progress.
func TestResumableProtocolBare308AndStatus(t *testing.T) {
	s := newServer(t)
	do := func(method, url, cr string, body []byte) *http.Response {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.Token)
		if cr != "" {
			req.Header.Set("Content-Range", cr)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	req, _ := http.NewRequest("POST", s.URL+"/upload/drive/v3/files?uploadType=resumable", strings.NewReader(`{"name":"a"}`))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("X-Upload-Content-Length", "10")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sess := resp.Header.Get("Location")
	if sess == "" {
		t.Fatal("no session URI")
	}
	r := do("PUT", sess, "bytes 0-3/10", []byte("0123"))
	if r.StatusCode != 308 || r.Header.Get("Range") != "bytes=0-3" {
		t.Errorf("chunk: %d %q", r.StatusCode, r.Header.Get("Range"))
	}
	r = do("PUT", sess, "bytes */10", nil)
	if r.StatusCode != 308 || r.Header.Get("Range") != "bytes=0-3" {
		t.Errorf("status: %d %q", r.StatusCode, r.Header.Get("Range"))
	}
	r = do("PUT", sess, "bytes 6-9/10", []byte("6789"))
	if r.StatusCode != 400 {
		t.Errorf("gap: %d, want 400", r.StatusCode)
	}
	r = do("PUT", sess, "bytes 4-9/10", []byte("456789"))
	if r.StatusCode != 200 {
		t.Errorf("last chunk: %d", r.StatusCode)
	}
	fs := s.Files()
	if len(fs) != 1 || fs[0].Size != 10 {
		t.Errorf("files: %+v", fs)
	}
	s.ExpireSessions()
	if r := do("PUT", sess, "bytes */10", nil); r.StatusCode != 404 {
		t.Errorf("expired session: %d, want 404", r.StatusCode)
	}
}

// With KeepNoBytes (for benchmarks) uploads, multipart and resumable, get
// their size and checksums as ever, while their bytes are not there to be
// read: a download fails instead of answering nothing.
func TestKeepNoBytesStillSumsEveryUpload(t *testing.T) {
	s := newServer(t)
	s.KeepNoBytes = true
	_, ds := clients(t, s, s.Token)
	small := []byte("a photo")
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000)
	for _, c := range []struct {
		data  []byte
		chunk int
	}{{small, 0}, {big, 256 << 10}} {
		f, err := ds.Files.Create(&drive.File{Name: "f.bin"}).Media(bytes.NewReader(c.data), googleapi.ChunkSize(c.chunk)).
			Fields("id,size,md5Checksum,sha256Checksum").Do()
		if err != nil {
			t.Fatal(err)
		}
		md, sh := md5.Sum(c.data), sha256.Sum256(c.data)
		if f.Size != int64(len(c.data)) || f.Md5Checksum != hex.EncodeToString(md[:]) || f.Sha256Checksum != hex.EncodeToString(sh[:]) {
			t.Errorf("%d bytes in chunks of %d: size %d md5 %s sha256 %s", len(c.data), c.chunk, f.Size, f.Md5Checksum, f.Sha256Checksum)
		}
		if _, ok := s.Content(f.Id); ok {
			t.Error("Content of bytes not kept")
		}
		if resp, err := ds.Files.Get(f.Id).Download(); err == nil {
			resp.Body.Close()
			t.Error("a download of bytes not kept succeeded")
		}
	}
}
