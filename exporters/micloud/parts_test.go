package micloud

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/micloudtest"
	"github.com/miexit/miexit/mapping"
)

func TestNoteMarkdown(t *testing.T) {
	link := func(id string) string {
		if id == "1.abc" {
			return "../_files/1.abc.jpg"
		}
		return ""
	}
	for _, tc := range []struct{ name, in, want string }{
		{"plain lines keep their breaks", "one\ntwo", "one  \ntwo\n"},
		{"bold italic strike", "<text indent=\"1\"><b>B</b> <i>I</i> <delete>D</delete> <u>U</u></text>", "**B** *I* ~~D~~ U\n"},
		{"checked and unchecked boxes", "<input type=\"checkbox\" indent=\"1\" level=\"3\" checked=\"true\" />done\n<input type=\"checkbox\" indent=\"1\" level=\"3\" />todo", "- [x] done\n- [ ] todo\n"},
		{"bullets with indent", "<bullet indent=\"1\" />a\n<bullet indent=\"2\" />b", "- a\n  - b\n"},
		{"ordered list", "<order indent=\"1\" inputNumber=\"0\" />x\n<order indent=\"1\" inputNumber=\"1\" />y", "1. x\n2. y\n"},
		{"entities", "a &lt;b&gt; &amp; c", "a <b> & c\n"},
		{"image downloaded", "☺ 1.abc<0/></>", "![](../_files/1.abc.jpg)\n"},
		{"image not downloaded", "☺ 2.zzz<0/></>", "[image 2.zzz not downloaded]\n"},
		{"heading size and rule", "<size>Big</size>\n<hr />", "# Big\n---\n"},
		{"unknown tags dropped, text kept", "<background color=\"#ff0\">hi</background>", "hi\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := noteMarkdown(tc.in, link); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRecordingName(t *testing.T) {
	for _, tc := range []struct {
		listed, want, kind string
		ok                 bool
	}{
		{"Recording 001.mp3_1_0_7001_1709294400000", "Recording 001.mp3", "recorder", true},
		{"Call a_b (138)_20240301.mp3_1_1_7002_1709294401000", "Call a_b (138)_20240301.mp3", "call", true},
		{"FM 97.4.aac_1_2_7003_1709294402000", "FM 97.4.aac", "fm", true},
		{"x.m4a_3_3_1_2", "x.m4a", "app", true},
		{"x.mp3_1_9_1_2", "x.mp3_1_9_1_2", "", false},
		{"plain.m4a", "plain.m4a", "", false},
		{"noext_1_0_1_2", "noext_1_0_1_2", "", false},
		{"x.mp3_1_0_a_2", "x.mp3_1_0_a_2", "", false},
	} {
		t.Run(tc.listed, func(t *testing.T) {
			name, kind, ok := recordingName(tc.listed)
			if name != tc.want || kind != tc.kind || ok != tc.ok {
				t.Errorf("got %q %q %v", name, kind, ok)
			}
		})
	}
}

func TestSaveAuthKeepsSecretsPrivate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvUserID, "")
	t.Setenv(EnvPassToken, "")
	t.Setenv(EnvEndpoint, "")
	if _, err := LoadCredentials(dir); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no file: err = %v", err)
	}
	if err := SaveAuth(dir, "userId=42; passToken=V1:secret+tok/en==; other=1", "userId=42; passToken=V1:secret+tok/en==; other=1"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, CredentialsFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v (%v)", st.Mode(), err)
	}
	if err := SetRegion(dir, "EU"); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "42" || c.PassToken != "V1:secret+tok/en==" || c.Region != "eu" || !strings.HasPrefix(c.DeviceID, "wb_") || len(c.DeviceID) != 39 {
		t.Errorf("loaded %q %q %q %q", c.UserID, c.PassToken, c.Region, c.DeviceID)
	}
	if c.BaseURL() != "https://eu.i.mi.com" {
		t.Errorf("base %s", c.BaseURL())
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "secret") {
			t.Errorf("credentials printed with the passToken: %s", s)
		}
	}
	dev := c.DeviceID
	// The environment overrides the file; the device id stays.
	t.Setenv(EnvPassToken, "V1:from-env")
	t.Setenv(EnvEndpoint, "http://127.0.0.1:1/")
	c, err = LoadCredentials(dir)
	if err != nil || c.PassToken != "V1:from-env" || c.BaseURL() != "http://127.0.0.1:1" || c.DeviceID != dev {
		t.Errorf("env override: %v %q %q", err, c.BaseURL(), c.DeviceID)
	}
	for _, bad := range []struct{ uid, pt string }{{"abc", "V1:x"}, {"42", ""}, {"42", "V1:a b"}} {
		if err := SaveAuth(dir, bad.uid, bad.pt); !errors.Is(err, mapping.ErrBadInput) {
			t.Errorf("SaveAuth(%q, ...) err = %v", bad.uid, err)
		}
	}
	if err := SetRegion(dir, "mars"); !errors.Is(err, mapping.ErrBadInput) {
		t.Errorf("SetRegion(mars) err = %v", err)
	}
}

func TestRegisteredSchemeUsesEnvironment(t *testing.T) {
	srv := startFake(t, micloudtest.Sample(false), micloudtest.Options{})
	t.Setenv(EnvEndpoint, srv.API.URL)
	t.Setenv(EnvUserID, srv.UserID())
	t.Setenv(EnvPassToken, srv.PassToken())
	e, err := exporters.Open(context.Background(), "micloud:", exporters.Params{ConfigDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := wantCounts(micloudtest.Sample(false)); n != want {
		t.Errorf("counts %+v, want %+v", n, want)
	}
	if _, err := exporters.Open(context.Background(), "micloud:mars", exporters.Params{ConfigDir: t.TempDir()}); !errors.Is(err, mapping.ErrBadInput) {
		t.Errorf("bad region: %v", err)
	}
}
