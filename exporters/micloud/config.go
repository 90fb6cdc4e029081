package micloud

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/miexit/miexit/internal/fsutil"
	"github.com/miexit/miexit/mapping"
)

// Environment variables that override the stored credentials, for checks
// and demos.
const (
	EnvEndpoint  = "MIEXIT_MICLOUD_ENDPOINT"
	EnvUserID    = "MIEXIT_MICLOUD_USERID"
	EnvPassToken = "MIEXIT_MICLOUD_PASSTOKEN"
)

// CredentialsFile is the file in the config dir that holds the account.
const CredentialsFile = "micloud.json"

// Regions maps --region to the web app's host.
var Regions = map[string]string{
	"cn": "https://i.mi.com",
	"us": "https://us.i.mi.com",
	"eu": "https://eu.i.mi.com",
	"in": "https://in.i.mi.com",
}

// Credentials are what miexit keeps to sign in to Mi Cloud. PassToken is a
// long-lived secret: it is stored 0600 and never printed (String hides it).
type Credentials struct {
	UserID    string `json:"userId"`
	PassToken string `json:"passToken"`
	Region    string `json:"region,omitempty"`
	// DeviceID is the browser-style device id (wb_<uuid>) sent with the
	// login steps; generated once and kept, as a browser keeps it.
	DeviceID string `json:"deviceId,omitempty"`
	// Endpoint replaces the region's host (from MIEXIT_MICLOUD_ENDPOINT).
	Endpoint string `json:"-"`
}

// String never shows the passToken.
func (c Credentials) String() string {
	return fmt.Sprintf("micloud user %s region %s", c.UserID, c.regionOrDefault())
}

// GoString keeps %#v from printing the passToken too.
func (c Credentials) GoString() string { return c.String() }

func (c Credentials) regionOrDefault() string {
	if c.Region == "" {
		return "cn"
	}
	return c.Region
}

// BaseURL is the web app's base URL: the endpoint override, else the
// region's host.
func (c Credentials) BaseURL() string {
	if c.Endpoint != "" {
		return strings.TrimRight(c.Endpoint, "/")
	}
	return Regions[c.regionOrDefault()]
}

// ErrNoCredentials means nobody ran `miexit auth micloud` yet.
var ErrNoCredentials = errors.New("no Mi Cloud credentials: run `miexit auth micloud` and paste the userId and passToken cookies of account.xiaomi.com")

func credPath(configDir string) string { return filepath.Join(configDir, CredentialsFile) }

func readStored(configDir string) (Credentials, error) {
	var c Credentials
	b, err := os.ReadFile(credPath(configDir))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %s is damaged (%v); run `miexit auth micloud` again", mapping.ErrBadInput, credPath(configDir), err)
	}
	return c, nil
}

func writeStored(configDir string, c Credentials) error {
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dst := credPath(configDir)
	f, err := fsutil.CreateTemp(dst)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		fsutil.Abort(f)
		return err
	}
	if _, err := f.Write(b); err != nil {
		fsutil.Abort(f)
		return err
	}
	if err := fsutil.Commit(f, dst, true); err != nil {
		return fmt.Errorf("save %s: %w", dst, err)
	}
	return nil
}

// SaveAuth stores a pasted userId and passToken (what `miexit auth micloud`
// calls), keeping the region and device id already stored. Cookie strings
// pasted whole ("userId=1; passToken=V1:...") are accepted too.
func SaveAuth(configDir, userID, passToken string) error {
	userID, passToken = cleanCookieValue(userID, "userId"), cleanCookieValue(passToken, "passToken")
	if userID == "" || passToken == "" {
		return fmt.Errorf("%w: both the userId and the passToken cookie are needed", mapping.ErrBadInput)
	}
	for _, r := range userID {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: the userId cookie is a number (got something else); copy the value of the cookie named userId", mapping.ErrBadInput)
		}
	}
	if strings.ContainsAny(passToken, " \t\r\n;") {
		return fmt.Errorf("%w: the passToken holds spaces or ';': copy only the value of the cookie named passToken", mapping.ErrBadInput)
	}
	c, err := readStored(configDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	c.UserID, c.PassToken = userID, passToken
	if c.DeviceID == "" {
		c.DeviceID = newDeviceID()
	}
	return writeStored(configDir, c)
}

// SetRegion remembers the region (cn, us, eu, in) for `--region`.
func SetRegion(configDir, region string) error {
	region = strings.ToLower(strings.TrimSpace(region))
	if _, ok := Regions[region]; !ok {
		return fmt.Errorf("%w: unknown Mi Cloud region %q (use cn, us, eu or in)", mapping.ErrBadInput, region)
	}
	c, err := readStored(configDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	c.Region = region
	return writeStored(configDir, c)
}

// LoadCredentials reads the stored account, with MIEXIT_MICLOUD_* variables
// overriding it, and generates (and stores) a device id when none exists.
func LoadCredentials(configDir string) (Credentials, error) {
	c, err := readStored(configDir)
	stored := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	if v := os.Getenv(EnvUserID); v != "" {
		c.UserID = v
	}
	if v := os.Getenv(EnvPassToken); v != "" {
		c.PassToken = v
	}
	c.Endpoint = os.Getenv(EnvEndpoint)
	if c.UserID == "" || c.PassToken == "" {
		return c, ErrNoCredentials
	}
	if _, ok := Regions[c.regionOrDefault()]; !ok {
		return c, fmt.Errorf("%w: %s names unknown region %q", mapping.ErrBadInput, credPath(configDir), c.Region)
	}
	if c.DeviceID == "" {
		c.DeviceID = newDeviceID()
		if stored {
			if err := writeStored(configDir, c); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

func cleanCookieValue(v, name string) string {
	v = strings.TrimSpace(v)
	// A whole cookie header pasted: pick the named cookie.
	if strings.Contains(v, "=") && strings.Contains(v, name+"=") {
		for _, part := range strings.Split(v, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			if k == name {
				return strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return strings.Trim(v, `"`)
}

// newDeviceID makes a device id of the browser web app's form, wb_<uuid>.
func newDeviceID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("wb_%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
