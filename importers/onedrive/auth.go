package onedrive

import (
	"context"
	"fmt"
	"path/filepath"

	"golang.org/x/oauth2"
)

// OAuthConfig is miexit's public-client configuration for clientID (no
// secret). redirect is the loopback URL for the PKCE flow ("" for the
// device-code flow).
func OAuthConfig(clientID, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, Endpoint: Endpoint, Scopes: Scopes, RedirectURL: redirect}
}

// LoginURL is the page a person opens for the PKCE flow; keep verifier
// (oauth2.GenerateVerifier) for ExchangeCode.
func LoginURL(cfg *oauth2.Config, state, verifier string) string {
	return cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// ExchangeCode trades the code the loopback redirect received for a token
// and saves it (0600) in configDir.
func ExchangeCode(ctx context.Context, cfg *oauth2.Config, code, verifier, configDir string) error {
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("onedrive sign-in: %w", err)
	}
	return SaveToken(filepath.Join(configDir, TokenFile), cfg.ClientID, tok)
}

// DeviceLogin runs the device-code flow, for machines without a browser:
// show tells the person which page to open and which code to type; it
// returns once they have signed in, with the token saved (0600) in
// configDir.
func DeviceLogin(ctx context.Context, cfg *oauth2.Config, configDir string, show func(uri, code string)) error {
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return fmt.Errorf("onedrive sign-in: %w", err)
	}
	show(da.VerificationURI, da.UserCode)
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		return fmt.Errorf("onedrive sign-in: %w", err)
	}
	return SaveToken(filepath.Join(configDir, TokenFile), cfg.ClientID, tok)
}
