package adbtest

import (
	"fmt"
	"io"
)

// Account is one account the fake phone's AccountManager holds.
type Account struct {
	Name string
	Type string // "com.xiaomi", "com.google", ...
}

// XiaomiAccountType is the account type MIUI's Xiaomi account uses.
const XiaomiAccountType = "com.xiaomi"

// dumpsys answers `dumpsys account` the way AOSP's AccountManagerService
// dumps itself; other services print nothing, as for a service the shell
// may not dump.
func (d *Device) dumpsys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "account" {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "Can't find service: %s\n", args[0])
		}
		return 0
	}
	d.mu.Lock()
	accs := append([]Account(nil), d.Accounts...)
	d.mu.Unlock()
	fmt.Fprintln(stdout, "User UserInfo{0:Owner:c13} running:")
	fmt.Fprintf(stdout, "  Accounts: %d\n", len(accs))
	for _, a := range accs {
		fmt.Fprintf(stdout, "    Account {name=%s, type=%s}\n", a.Name, a.Type)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "  Active Sessions: 0")
	fmt.Fprintln(stdout)
	// The authenticators are listed whether or not anyone is signed in:
	// a parser must not take them for accounts.
	fmt.Fprintln(stdout, "  RegisteredServicesCache: 2 services")
	fmt.Fprintln(stdout, "    ServiceInfo: AuthenticatorDescription {type=com.xiaomi}, ComponentInfo{com.xiaomi.account/com.xiaomi.passport.accountmanager.MiAuthenticatorService}, uid 10123")
	fmt.Fprintln(stdout, "    ServiceInfo: AuthenticatorDescription {type=com.google}, ComponentInfo{com.google.android.gms/com.google.android.gms.auth.authzen.AuthzenAuthenticatorService}, uid 10150")
	return 0
}

// SetAccounts replaces the accounts the phone reports, safe while serving.
func (d *Device) SetAccounts(accs ...Account) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Accounts = accs
}
