package archive

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/miexit/miexit/exporters"
	"github.com/miexit/miexit/internal/snapshot"
	"github.com/miexit/miexit/mapping"
)

// An SMS Backup & Restore file someone already made is a source too: its
// emoji (written as surrogate pairs) survive and MMS pictures become files.
func TestSMSBackupRestoreFileIsRead(t *testing.T) {
	in := t.TempDir()
	doc := `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="2">
  <sms protocol="0" address="+15550100" date="1714521600000" type="1" subject="null" body="hi &#55357;&#56846;, line&#10;two" toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="0" readable_date="x" contact_name="null" />
  <mms date="1714521700000" msg_box="1" address="+15550100" m_type="132" sub="null" read="1" locked="0" date_sent="0" ct_t="application/vnd.wap.multipart.related" readable_date="x" contact_name="null">
    <parts>
      <part seq="0" ct="image/jpeg" name="a.jpg" chset="null" cd="null" fn="null" cid="null" cl="a.jpg" ctt_s="null" ctt_t="null" text="null" data="/9j/4AAQSkZJRgABAQ==" />
    </parts>
    <addrs><addr address="+15550100" type="137" charset="106" /></addrs>
  </mms>
</smses>
`
	if err := os.WriteFile(filepath.Join(in, "sms-20240501.xml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, _ := New(exporters.Params{Arg: in})
	out := t.TempDir()
	w, _ := snapshot.Create(out, snapshot.Options{})
	if err := e.Export(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ := snapshot.Open(out)
	var got []mapping.Message
	for m, err := range r.Messages() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0].Body != "hi 😎, line\ntwo" {
		t.Fatalf("messages %+v", got)
	}
	p := got[1].Parts[0]
	st, err := os.Stat(filepath.Join(out, filepath.FromSlash(p.File)))
	if p.File == "" || err != nil || st.Size() != p.Size || p.Size != 13 {
		t.Fatalf("MMS part %+v not stored (%v)", p, err)
	}
}
