package miuigen

import (
	"bytes"
	"strings"
	"testing"
)

func TestHeaderLinesFollowTheFormat(t *testing.T) {
	f := New(1, 2)
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"plain", Options{}, "MIUI BACKUP\n2\ncom.android.mms 短信\n1\n0\nANDROID BACKUP\n5\n0\nnone\n"},
		{"no label, compressed, v3", Options{NoLabel: true, Compressed: true, Version: 3}, "MIUI BACKUP\n2\ncom.android.mms\n1\n0\nANDROID BACKUP\n3\n1\nnone\n"},
	} {
		b, err := f.Bak("sms", tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(tc.want)) {
			t.Errorf("%s: header %q", tc.name, b[:min(len(b), len(tc.want))])
		}
	}
	b, err := f.Bak("notes", Options{Password: "pw", Rounds: 10})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 16)
	// MIUI part (6 lines with the password line), then ANDROID BACKUP,
	// version, compression, AES-256 and five hex lines; the master-key blob
	// (1+16+1+32+1+32 bytes) pads to 96.
	if lines[4] != "1" || lines[6] != "ANDROID BACKUP" || lines[9] != "AES-256" || lines[12] != "10" || len(lines[14]) != 2*96 {
		t.Errorf("encrypted header lines = %q", lines[:15])
	}
}

func TestFileNamesUseLabelAndPackage(t *testing.T) {
	if got := FileName("sms"); got != "短信(com.android.mms).bak" {
		t.Errorf("FileName = %q", got)
	}
}
