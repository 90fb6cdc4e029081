package dav

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/mapping"
)

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://Cloud.Example.org/remote.php/dav": "https://cloud.example.org/remote.php/dav/",
		" http://127.0.0.1:5232/me/contacts/?x=1 ": "http://127.0.0.1:5232/me/contacts/",
		"https://nas.local:5006/home/写真/":          "https://nas.local:5006/home/%E5%86%99%E7%9C%9F/",
	} {
		u, err := NormalizeURL(in)
		if err != nil || u.String() != want {
			t.Errorf("NormalizeURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "cloud.example.org", "ftp://x/", "https://me:secret@cloud.example.org/"} {
		_, err := NormalizeURL(bad)
		if !errors.Is(err, mapping.ErrBadInput) || strings.Contains(fmt.Sprint(err), "secret") {
			t.Errorf("NormalizeURL(%q): err = %v", bad, err)
		}
	}
}

// Credentials are stored 0600, found for any URL below the one given
// (the longest match wins), overridden by the environment, and never
// shown by Cred's String.
func TestSaveLookup(t *testing.T) {
	t.Setenv(EnvUser, "")
	t.Setenv(EnvPassword, "")
	dir := filepath.Join(t.TempDir(), "config")
	if err := Save(dir, "https://cloud.example.org/remote.php/dav", Cred{User: "me", Password: "pw-one"}); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, "https://cloud.example.org/remote.php/dav/addressbooks/users/me/", Cred{User: "me", Password: "pw-two"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, CredFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st, err)
	}
	lookup := func(raw string) (Cred, error) {
		u, err := NormalizeURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		return Lookup(dir, u, "carddav")
	}
	if c, err := lookup("https://cloud.example.org/remote.php/dav/files/me/miexit/"); err != nil || c.Password != "pw-one" {
		t.Errorf("files: %v %v", c, err)
	}
	if c, err := lookup("https://cloud.example.org/remote.php/dav/addressbooks/users/me/contacts/"); err != nil || c.Password != "pw-two" {
		t.Errorf("contacts: %v %v", c, err)
	}
	_, err = lookup("https://other.example.org/dav/")
	if !errors.Is(err, mapping.ErrBadInput) || !strings.Contains(err.Error(), "miexit auth carddav https://other.example.org/dav/") {
		t.Errorf("unknown server: %v", err)
	}
	t.Setenv(EnvUser, "script")
	t.Setenv(EnvPassword, "pw-env")
	if c, _ := lookup("https://other.example.org/dav/"); c.User != "script" || c.Password != "pw-env" {
		t.Errorf("environment: %v", c)
	}
	if s := fmt.Sprint(Cred{User: "me", Password: "pw-one"}); strings.Contains(s, "pw-one") {
		t.Errorf("Cred prints its password: %s", s)
	}
	if err := Save(dir, "https://x.example/", Cred{User: "me"}); !errors.Is(err, mapping.ErrBadInput) {
		t.Errorf("no password: %v", err)
	}
}

func TestMultiStatus(t *testing.T) {
	const body = `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav" xmlns:oc="http://owncloud.org/ns">
<d:response><d:href>/me/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
<d:response><d:href>/me/book/a%20b.vcf</d:href><d:propstat><d:prop><d:getetag>"e1"</d:getetag><c:address-data>BEGIN:VCARD&#13;
END:VCARD</c:address-data><oc:checksums>SHA1:ABC</oc:checksums></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop><d:getcontentlength/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>
</d:multistatus>`
	var got []Response
	for r, err := range MultiStatus(strings.NewReader(body)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || !got[0].Collection || !got[0].AddressBook || got[1].Collection {
		t.Fatalf("responses %+v", got)
	}
	if got[1].Props[GetETag] != `"e1"` || !strings.HasPrefix(got[1].Props[AddressData], "BEGIN:VCARD") || got[1].Props[OCChecksums] != "SHA1:ABC" {
		t.Errorf("props %v", got[1].Props)
	}
	if _, ok := got[1].Props[GetLength]; ok {
		t.Error("a 404 propstat's property was taken")
	}
	n := 0
	for _, err := range MultiStatus(strings.NewReader(body[:len(body)/2])) {
		if err != nil {
			n++
		}
	}
	if n != 1 {
		t.Errorf("a cut body gave %d errors, want 1", n)
	}
}
