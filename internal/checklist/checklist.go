// Package checklist builds the sign-out checklist: what the phone can tell
// (system version, whether a Xiaomi account is signed in), what verify last
// said for each kind of data, and the steps only a person can do, in the
// order that keeps their data safe. It never calls signing out safe unless
// the newest verify of every kind a source held passed.
package checklist

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miexit/miexit/internal/adb"
	"github.com/miexit/miexit/internal/verifylog"
	"github.com/miexit/miexit/mapping"
)

// Status is where one step stands.
type Status string

const (
	Done       Status = "done"
	ToDo       Status = "to do"
	CannotTell Status = "cannot tell"
	// Blocked: an earlier step must be done first.
	Blocked Status = "blocked"
)

// XiaomiAccountType is the AccountManager type of a Xiaomi (Mi) account.
const XiaomiAccountType = "com.xiaomi"

// Phone is what the phone told about itself.
type Phone struct {
	Serial  string `json:"serial"`
	Model   string `json:"model,omitempty"`
	OS      string `json:"os,omitempty"` // "HyperOS OS1.0", "MIUI V140"; empty on other Android phones
	Android string `json:"android,omitempty"`
	Build   string `json:"build,omitempty"` // ro.build.version.incremental, e.g. V14.0.6.0.TMTMIXM
	// AccountChecked is false when `dumpsys account` could not be read.
	AccountChecked bool `json:"account_checked"`
	// XiaomiAccounts are the signed-in Xiaomi accounts, masked.
	XiaomiAccounts []string `json:"xiaomi_accounts"`
	// AccountProblem says why the accounts could not be read.
	AccountProblem string `json:"account_problem,omitempty"`
}

// SignedIn reports whether the phone said a Xiaomi account is signed in.
func (p *Phone) SignedIn() bool { return p != nil && len(p.XiaomiAccounts) > 0 }

// ReadPhone asks a phone for its system version and its Xiaomi accounts.
// Only a failure to reach the phone is an error; an account list the phone
// will not give is reported in the Phone.
func ReadPhone(ctx context.Context, d *adb.Device) (*Phone, error) {
	p := &Phone{Serial: d.Serial}
	prop := func(name string) (string, error) {
		v, err := d.GetProp(ctx, name)
		if err != nil {
			return "", fmt.Errorf("read %s from phone %s: %w", name, d.Serial, err)
		}
		return strings.TrimSpace(v), nil
	}
	var err error
	if p.Model, err = prop("ro.product.model"); err != nil {
		return nil, err
	}
	p.Android, _ = prop("ro.build.version.release")
	p.Build, _ = prop("ro.build.version.incremental")
	// HyperOS keeps ro.miui.ui.version.name for compatibility, so its own
	// property is asked first.
	if v, _ := prop("ro.mi.os.version.name"); v != "" {
		p.OS = "HyperOS " + v
	} else if v, _ := prop("ro.miui.ui.version.name"); v != "" {
		p.OS = "MIUI " + v
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := d.Output(ctx, "dumpsys", "account")
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p.AccountProblem = fmt.Sprintf("`dumpsys account` failed: %v", err)
		return p, nil
	}
	p.AccountChecked = true
	p.XiaomiAccounts = []string{}
	for _, a := range Accounts(out) {
		if a.Type == XiaomiAccountType {
			p.XiaomiAccounts = append(p.XiaomiAccounts, Mask(a.Name))
		}
	}
	return p, nil
}

// ReadPhoneBySerial is ReadPhone for the phone with serial over the local
// adb server ("" when exactly one phone is connected).
func ReadPhoneBySerial(ctx context.Context, serial string) (*Phone, error) {
	c, err := adb.New()
	if err != nil {
		return nil, err
	}
	d, err := c.Pick(ctx, serial)
	if err != nil {
		return nil, err
	}
	return ReadPhone(ctx, d)
}

// Account is one line of `dumpsys account`'s account list.
type Account struct{ Name, Type string }

// Accounts parses the "Account {name=..., type=...}" lines of `dumpsys
// account`, each account once. Authenticator lines ("AuthenticatorDescription
// {type=...}") are not accounts and are skipped.
func Accounts(dumpsys []byte) []Account {
	var out []Account
	sc := bufio.NewScanner(bytes.NewReader(dumpsys))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "Account {name=")
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, "}")
		// A name may hold ", " itself; the type never does.
		i := strings.LastIndex(rest, ", type=")
		if i < 0 {
			continue
		}
		a := Account{Name: rest[:i], Type: rest[i+len(", type="):]}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Mask hides most of an account name (a Xiaomi ID, a phone number, an
// e-mail address) while leaving enough for its owner to recognize it.
func Mask(name string) string {
	local, domain, isMail := strings.Cut(name, "@")
	r := []rune(local)
	var keepHead, keepTail int
	switch {
	case len(r) >= 8:
		keepHead, keepTail = 2, 2
	case len(r) >= 4:
		keepHead, keepTail = 1, 1
	case len(r) >= 2:
		keepHead = 1
	}
	masked := string(r[:keepHead]) + strings.Repeat("*", len(r)-keepHead-keepTail) + string(r[len(r)-keepTail:])
	if len(r) == 1 {
		masked = "*"
	}
	if isMail {
		return masked + "@" + domain
	}
	return masked
}

// KindCheck is what the newest verify said about one kind of data.
type KindCheck struct {
	Kind        mapping.Kind `json:"kind"`
	Passed      bool         `json:"passed"`
	Time        time.Time    `json:"time"`
	Source      string       `json:"source"`
	Destination string       `json:"destination"`
	Items       int          `json:"items"` // in the source
	Missing     int          `json:"missing"`
	Different   int          `json:"different"`
	// NotChecked: no verify ever checked this kind; the only one on
	// record was at a destination that does not take it.
	NotChecked bool `json:"not_checked,omitempty"`
}

// Step is one thing to do before and after signing out.
type Step struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Why says how the status was decided.
	Why string `json:"why"`
	// How says what to tap, for steps a person does.
	How string `json:"how,omitempty"`
}

// Report is the whole checklist.
type Report struct {
	Phone *Phone `json:"phone,omitempty"`
	// PhoneProblem says why the phone could not be read when one was asked for.
	PhoneProblem string      `json:"phone_problem,omitempty"`
	Verify       []KindCheck `json:"verify"`
	Steps        []Step      `json:"steps"`
	// Safe: every kind some verify saw passed its newest verify.
	Safe bool `json:"safe"`
	// Verdict says, in words, whether signing out is safe and why.
	Verdict string `json:"verdict"`
	// NotChecked lists what this run could not check.
	NotChecked []string `json:"not_checked,omitempty"`
	// Notices are things to look at that do not change the verdict.
	Notices []string `json:"notices,omitempty"`
	// waitWhy says why the person-only steps wait, when not Safe.
	waitWhy string
}

// Input is what Build decides from.
type Input struct {
	// PhoneAsked: the user named a phone; Phone is nil when it could not
	// be read, and PhoneErr says why.
	PhoneAsked bool
	Phone      *Phone
	PhoneErr   error
	History    []verifylog.Record
	HistoryErr error
	// Destination, when set, limits the verify history to that destination.
	Destination string
}

// Build decides every step's status.
func Build(in Input) Report {
	r := Report{Phone: in.Phone, Verify: []KindCheck{}}
	if in.PhoneErr != nil {
		r.PhoneProblem = in.PhoneErr.Error()
	}
	hist := in.History
	if in.Destination != "" {
		hist = slices.DeleteFunc(slices.Clone(hist), func(rec verifylog.Record) bool { return rec.Destination != in.Destination })
	}
	last := verifylog.LastByKind(hist)
	reduced := verifylog.Unsettled(hist)
	var failed, unchecked []string
	for _, k := range append(slices.Clone(mapping.Kinds), extraKinds(last)...) {
		kr, ok := last[k]
		if !ok {
			continue
		}
		r.Verify = append(r.Verify, KindCheck{
			Kind: k, Passed: kr.Passed, Time: kr.Time, Source: kr.Source, Destination: kr.Destination,
			Items: kr.Row.Source, Missing: kr.Row.Missing, Different: kr.Row.Different, NotChecked: kr.Row.NotChecked,
		})
		switch {
		case kr.Row.NotChecked:
			unchecked = append(unchecked, string(k))
		case !kr.Passed:
			failed = append(failed, string(k))
		}
	}

	switch {
	case in.HistoryErr != nil:
		r.Verdict = fmt.Sprintf("Not safe to sign out yet: the verify history cannot be read (%v).", in.HistoryErr)
	case len(r.Verify) == 0 && in.Destination != "":
		r.Verdict = fmt.Sprintf("Not safe to sign out yet: nothing was ever verified at %s. Run `miexit migrate --from SRC --to %s` (or `miexit verify`) first.", in.Destination, in.Destination)
	case len(r.Verify) == 0:
		r.Verdict = "Not safe to sign out yet: nothing was ever verified. Run `miexit migrate --from SRC --to DEST` (or `miexit verify`) for each source first."
	case len(failed) > 0:
		r.Verdict = fmt.Sprintf("Not safe to sign out yet: the last verify found gaps in %s. Run `miexit migrate` (or import) again for them, then verify until it passes.", strings.Join(failed, ", "))
	case len(unchecked) > 0:
		r.Verdict = fmt.Sprintf("Not safe to sign out yet: %s were never checked at a destination that takes them (the only verify of them was at %s, which holds other kinds). Copy them with `miexit migrate --from SRC --to DEST` to a destination that takes them (dir:, webdav:, ...).", strings.Join(unchecked, ", "), last[mapping.Kind(unchecked[0])].Destination)
	case len(reduced) > 0:
		r.waitWhy = "photos that were only reduced copies have no original copied yet"
		// The report's NextStep says the same of the same snapshot: the
		// page and the report never disagree about signing out.
		n, srcs := 0, make([]string, len(reduced))
		for i, rec := range reduced {
			n += rec.Reduced
			srcs[i] = rec.Source
		}
		r.Verdict = fmt.Sprintf("Not safe to sign out yet: verify passed, but %d photo(s) of %s were only reduced copies; their originals may be only in Mi Cloud. Copy them with `miexit migrate --from micloud --to %s` (or download the originals in the phone's Gallery and migrate again), then sign out.", n, strings.Join(srcs, ", "), reduced[len(reduced)-1].Destination)
	default:
		r.Safe = true
		r.Verdict = "Safe to sign out: the last verify of every kind of data passed. Follow the steps below in order."
	}

	switch {
	case !in.PhoneAsked:
		r.NotChecked = append(r.NotChecked, "the phone (no --from adb): its system version and whether a Xiaomi account is signed in")
	case in.Phone == nil:
		r.NotChecked = append(r.NotChecked, "the phone: "+r.PhoneProblem)
	case !in.Phone.AccountChecked:
		r.NotChecked = append(r.NotChecked, "the Xiaomi account: "+in.Phone.AccountProblem)
	}
	r.NotChecked = append(r.NotChecked,
		"Cloud Messaging and the Mi Cloud sync switches: the phone does not tell them over USB debugging",
		"the Mi account password: only you know whether you changed it")

	if in.Phone != nil && len(r.Verify) > 0 && !phoneVerified(hist, in.Phone.Serial) {
		var srcs []string
		for _, k := range r.Verify {
			if !slices.Contains(srcs, k.Source) {
				srcs = append(srcs, k.Source)
			}
		}
		r.Notices = append(r.Notices, fmt.Sprintf("no verify of this phone is on record, only of %s: if the phone holds data those do not, run `miexit migrate --from adb:%s --to DEST` first", strings.Join(srcs, ", "), in.Phone.Serial))
	}

	r.Steps = steps(r, in)
	return r
}

// phoneVerified reports whether some verify's source was this phone (or
// the only phone, "adb").
func phoneVerified(hist []verifylog.Record, serial string) bool {
	for _, rec := range hist {
		if rec.Source == "adb" || rec.Source == "adb:" || rec.Source == "adb:"+serial {
			return true
		}
	}
	return false
}

// extraKinds are kinds in the history this build does not list, sorted,
// so a newer miexit's records are never ignored.
func extraKinds(last map[mapping.Kind]verifylog.KindResult) []mapping.Kind {
	var out []mapping.Kind
	for k := range last {
		if !slices.Contains(mapping.Kinds, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func steps(r Report, in Input) []Step {
	accountKnown := in.Phone != nil && in.Phone.AccountChecked
	signedOut := accountKnown && !in.Phone.SignedIn()
	who := ""
	if in.Phone.SignedIn() {
		who = " (" + strings.Join(in.Phone.XiaomiAccounts, ", ") + ")"
	}

	wait := r.waitWhy
	if wait == "" {
		wait = "verify has not passed for every kind yet"
	}
	verify := Step{ID: "verify", Title: "Copy everything out and verify it", Status: ToDo, Why: r.Verdict,
		How: "miexit migrate --from adb --to DEST (and --from micloud, --from archive:PATH for what is only in the cloud or in backups); re-run until verify passes"}
	if r.Safe {
		verify.Status, verify.Why = Done, "the newest verify of every kind of data passed"
	}

	// The person-only steps wait for verify: turning a sync switch off can
	// offer to delete the synced data from the phone, and signing out ends
	// the cloud copy.
	personStep := func(id, title, how string) Step {
		s := Step{ID: id, Title: title, How: how}
		switch {
		case signedOut:
			s.Status, s.Why = Done, "no Xiaomi account is signed in on the phone"
		case !r.Safe:
			s.Status, s.Why = Blocked, wait
		case accountKnown:
			s.Status, s.Why = CannotTell, "the phone does not show this over USB debugging; check it yourself"
		default:
			s.Status, s.Why = CannotTell, "the phone was not checked; check it yourself"
		}
		return s
	}
	cloudMsg := personStep("cloud-messaging", "Turn Cloud Messaging off",
		"Messages app > Settings (⋮ or the gear) > turn off Xiaomi Cloud Messaging (\"Cloud messages\" on older MIUI), so no SMS is sent as a cloud message any more")
	syncOff := personStep("sync-off", "Turn each Mi Cloud sync switch off BEFORE signing out",
		"Settings > Xiaomi account (Mi Account) > Xiaomi Cloud > turn off every switch (Contacts, Messages, Gallery, Notes, Recorder, Call history, ...); when asked, keep the data on this phone")

	signOut := Step{ID: "sign-out", Title: "Sign out of the Xiaomi account",
		How: "Settings > Xiaomi account > Sign out; enter the password, and choose to keep the data on this phone"}
	switch {
	case signedOut:
		signOut.Status, signOut.Why = Done, "no Xiaomi account is signed in on the phone"
	case !r.Safe:
		signOut.Status, signOut.Why = Blocked, wait
	case in.Phone.SignedIn():
		signOut.Status, signOut.Why = ToDo, "a Xiaomi account is signed in"+who
	default:
		signOut.Status, signOut.Why = CannotTell, "the phone was not checked (run with --from adb)"
	}

	password := Step{ID: "password", Title: "Change the Mi account password",
		How: "https://account.xiaomi.com > Security > Change password; this also ends miexit's saved Mi Cloud cookies (run `miexit auth micloud` again only if you still need them)"}
	switch {
	case !r.Safe:
		password.Status, password.Why = Blocked, wait+" (miexit micloud needs the current sign-in)"
	case signOut.Status == ToDo:
		password.Status, password.Why = Blocked, "sign out on the phone first"
	default:
		password.Status, password.Why = CannotTell, "only you know whether you changed it"
	}
	return []Step{verify, cloudMsg, syncOff, signOut, password}
}
