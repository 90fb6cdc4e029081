package checklist

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miexit/miexit/internal/verify"
	"github.com/miexit/miexit/internal/verifylog"
	"github.com/miexit/miexit/mapping"
)

func TestAccountsSkipsAuthenticatorsAndKeepsCommasInNames(t *testing.T) {
	out := `User UserInfo{0:Owner:c13} running:
  Accounts: 3
    Account {name=1234567890, type=com.xiaomi}
    Account {name=Doe, Jane, type=com.example}
    Account {name=a@gmail.com, type=com.google}

  RegisteredServicesCache: 1 services
    ServiceInfo: AuthenticatorDescription {type=com.xiaomi}, ComponentInfo{x/y}, uid 10123
User UserInfo{10:Work:30} running:
  Accounts: 1
    Account {name=1234567890, type=com.xiaomi}
`
	got := Accounts([]byte(out))
	want := []Account{{"1234567890", "com.xiaomi"}, {"Doe, Jane", "com.example"}, {"a@gmail.com", "com.google"}}
	if len(got) != len(want) {
		t.Fatalf("Accounts = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("account %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestMaskNeverShowsTheWholeName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1234567890", "12******90"},
		{"+8613812345678", "+8**********78"},
		{"jane.doe@xiaomi.com", "ja****oe@xiaomi.com"},
		{"abcd", "a**d"},
		{"ab", "a*"},
		{"a", "*"},
		{"", ""},
		{"王小明先生", "王***生"},
	}
	for _, c := range cases {
		got := Mask(c.in)
		if got != c.want {
			t.Errorf("Mask(%q) = %q, want %q", c.in, got, c.want)
		}
		if c.in != "" && strings.Contains(got, strings.Split(c.in, "@")[0]) {
			t.Errorf("Mask(%q) = %q shows the name", c.in, got)
		}
	}
}

func rec(at time.Time, dest string, rows ...verify.Row) verifylog.Record {
	r := verifylog.Record{Time: at, Source: "adb:s", Destination: dest, Rows: rows, OK: true}
	for _, row := range rows {
		if row.Missing+row.Different > 0 {
			r.OK = false
		}
	}
	return r
}

func statuses(r Report) map[string]Status {
	m := map[string]Status{}
	for _, s := range r.Steps {
		m[s.ID] = s.Status
	}
	return m
}

func TestBuild(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	pass := []verifylog.Record{rec(t0, "google", verify.Row{Kind: mapping.KindContact, Source: 3, Destination: 3}, verify.Row{Kind: mapping.KindMedia, Source: 2, Destination: 2})}
	failLater := append(pass[:1:1], rec(t0.Add(time.Hour), "dir:/x", verify.Row{Kind: mapping.KindMedia, Source: 2, Missing: 1}))
	// An address book checks contacts only: its verify rows for photos
	// say not checked, with the snapshot's count.
	cardOnly := []verifylog.Record{rec(t0, "carddav:https://dav.example/", verify.Row{Kind: mapping.KindContact, Source: 3, Destination: 3}, verify.Row{Kind: mapping.KindMedia, Source: 2, NotChecked: true})}
	cardAfterDir := append(pass[:1:1], rec(t0.Add(time.Hour), "carddav:https://dav.example/", verify.Row{Kind: mapping.KindContact, Source: 3, Destination: 3}, verify.Row{Kind: mapping.KindMedia, Source: 2, NotChecked: true}))
	signedIn := &Phone{Serial: "s", AccountChecked: true, XiaomiAccounts: []string{"12***90"}}
	signedOut := &Phone{Serial: "s", AccountChecked: true, XiaomiAccounts: []string{}}
	unknown := &Phone{Serial: "s", AccountProblem: "dumpsys failed"}

	cases := []struct {
		name     string
		in       Input
		safe     bool
		verdict  string
		statuses map[string]Status
		notice   bool
	}{
		{"no history is not safe", Input{PhoneAsked: true, Phone: signedIn}, false, "nothing was ever verified",
			map[string]Status{"verify": ToDo, "cloud-messaging": Blocked, "sign-out": Blocked, "password": Blocked}, false},
		{"passing verify, signed in", Input{PhoneAsked: true, Phone: signedIn, History: pass}, true, "Safe to sign out",
			map[string]Status{"verify": Done, "sync-off": CannotTell, "sign-out": ToDo, "password": Blocked}, false},
		{"passing verify of another source says the phone was never verified", Input{PhoneAsked: true, Phone: &Phone{Serial: "other", AccountChecked: true, XiaomiAccounts: []string{"x*"}}, History: pass}, true, "Safe",
			map[string]Status{"sign-out": ToDo}, true},
		{"passing verify, signed out", Input{PhoneAsked: true, Phone: signedOut, History: pass}, true, "Safe",
			map[string]Status{"cloud-messaging": Done, "sync-off": Done, "sign-out": Done, "password": CannotTell}, false},
		{"newer failing verify of one kind", Input{PhoneAsked: true, Phone: signedIn, History: failLater}, false, "gaps in media",
			map[string]Status{"verify": ToDo, "sign-out": Blocked}, false},
		{"only another destination verified", Input{History: pass, Destination: "dir:/y"}, false, "nothing was ever verified at dir:/y",
			map[string]Status{"sign-out": Blocked}, false},
		{"only an address book verified: photos copied nowhere", Input{PhoneAsked: true, Phone: signedOut, History: cardOnly}, false, "media were never checked",
			map[string]Status{"verify": ToDo}, false},
		{"an address book's verify after a passing one of photos elsewhere", Input{PhoneAsked: true, Phone: signedOut, History: cardAfterDir}, true, "Safe",
			map[string]Status{}, false},
		{"unreadable history", Input{History: pass, HistoryErr: errors.New("line 3: bad")}, false, "cannot be read",
			map[string]Status{"verify": ToDo}, false},
		{"accounts unreadable", Input{PhoneAsked: true, Phone: unknown, History: pass}, true, "Safe",
			map[string]Status{"sign-out": CannotTell, "password": CannotTell}, false},
		{"no phone asked", Input{History: pass}, true, "Safe",
			map[string]Status{"cloud-messaging": CannotTell, "sign-out": CannotTell}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Build(c.in)
			if r.Safe != c.safe || !strings.Contains(r.Verdict, c.verdict) {
				t.Errorf("safe %v, verdict %q; want %v, %q", r.Safe, r.Verdict, c.safe, c.verdict)
			}
			got := statuses(r)
			for id, want := range c.statuses {
				if got[id] != want {
					t.Errorf("step %s = %q, want %q", id, got[id], want)
				}
			}
			if (len(r.Notices) > 0) != c.notice {
				t.Errorf("notices = %q, want some: %v", r.Notices, c.notice)
			}
			if len(r.Steps) != 5 || r.Steps[0].ID != "verify" || r.Steps[4].ID != "password" {
				t.Errorf("steps out of order: %v", r.Steps)
			}
		})
	}
}

// Photos that were only reduced copies keep signing out unsafe, as the
// report's next step says, until a later verify from Mi Cloud (where the
// originals are) or of the same source without them; another source's
// photos, or contacts alone, settle nothing.
func TestReducedCopiesAreNotSafeUntilTheOriginalsAreVerified(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rec := func(min int, src string, reduced int, kinds ...mapping.Kind) verifylog.Record {
		r := verifylog.Record{Time: t0.Add(time.Duration(min) * time.Minute), Source: src, Destination: "dir:/b", OK: true, Reduced: reduced}
		for _, k := range kinds {
			r.Rows = append(r.Rows, verify.Row{Kind: k, Source: 3, Destination: 3})
		}
		return r
	}
	archive := rec(0, "archive:/s", 1, mapping.KindMedia, mapping.KindContact)
	cases := []struct {
		name string
		hist []verifylog.Record
		safe bool
	}{
		{"the archive alone", []verifylog.Record{archive}, false},
		{"then contacts alone", []verifylog.Record{archive, rec(1, "archive:/c.vcf", 0, mapping.KindContact)}, false},
		{"then the phone's photos", []verifylog.Record{archive, rec(1, "adb:x", 0, mapping.KindMedia)}, false},
		{"then only reduced copies from Mi Cloud", []verifylog.Record{archive, rec(1, "micloud:", 2)}, false},
		{"then Mi Cloud's originals", []verifylog.Record{archive, rec(1, "micloud:", 0, mapping.KindMedia)}, true},
		{"Mi Cloud first, the archive after", []verifylog.Record{rec(-1, "micloud:", 0, mapping.KindMedia), archive}, false},
		{"the archive again without them", []verifylog.Record{archive, rec(1, "archive:/s", 0, mapping.KindMedia, mapping.KindContact)}, true},
	}
	for _, c := range cases {
		r := Build(Input{History: c.hist})
		if r.Safe != c.safe {
			t.Errorf("%s: safe %v, want %v (%s)", c.name, r.Safe, c.safe, r.Verdict)
		}
		if !c.safe {
			if !strings.Contains(r.Verdict, "reduced copies") || !strings.Contains(r.Verdict, "archive:/s") {
				t.Errorf("%s: the verdict does not name the reduced copies and their source: %s", c.name, r.Verdict)
			}
			for _, s := range r.Steps[1:] {
				if s.Status != Blocked && s.Status != Done {
					continue
				}
				if s.Status == Blocked && !strings.Contains(s.Why, "reduced copies") {
					t.Errorf("%s: step %s waits for %q, not for the originals", c.name, s.ID, s.Why)
				}
			}
		}
	}
}
