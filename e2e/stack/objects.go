package stack

import (
	"context"
	"fmt"
	"os"
)

// App is the part of an application the e2e tests and the local runner use.
type App struct {
	ID  string `json:"id"`
	Aud string `json:"aud"`
}

// Token is a service token as the create command prints it (the only time the
// secret is shown).
type Token struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	ExpiresAt    string `json:"expires_at"`
}

// CreateApp runs `svcauth apps create` with extra flags.
func (i *Issuer) CreateApp(ctx context.Context, name, domain string, extra ...string) (App, error) {
	var a App
	err := i.CLI(ctx, &a, append([]string{"apps", "create", "--name", name, "--domain", domain}, extra...)...)
	if err == nil && (a.ID == "" || a.Aud == "") {
		err = fmt.Errorf("apps create printed no id or aud")
	}
	return a, err
}

// CreateToken runs `svcauth tokens create`.
func (i *Issuer) CreateToken(ctx context.Context, name string) (Token, error) {
	var t Token
	err := i.CLI(ctx, &t, "tokens", "create", "--name", name)
	if err == nil && (t.ClientID == "" || t.ClientSecret == "") {
		err = fmt.Errorf("tokens create printed no client id or secret")
	}
	return t, err
}

// AdmitServiceTokens adds a Service Auth policy to the app; include is a
// rule as the CLI takes it ("any_valid_service_token", "token:ID").
func (i *Issuer) AdmitServiceTokens(ctx context.Context, appID, include string) error {
	return i.CLI(ctx, nil, "policies", "create", "--app", appID, "--decision", "non_identity", "--include", include)
}

// WriteFilterConfig saves `svcauth filter-config --app ID` to path (0600: it
// holds the app's HMAC key).
func (i *Issuer) WriteFilterConfig(ctx context.Context, appID, cluster, path string) error {
	stdout, stderr, code, err := i.RunCLI(ctx, "filter-config", "--app", appID, "--cluster", cluster)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("svcauth filter-config: exit %d: %s", code, stderr)
	}
	return os.WriteFile(path, []byte(stdout), 0o600)
}
