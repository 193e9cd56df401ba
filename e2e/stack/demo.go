package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Demo is what the local launchers (`make run`, dev proxy or docker compose)
// create on their first run — an app admitting any valid service token and
// one token — and keep in a state file so later runs reuse it.
type Demo struct {
	App   App   `json:"app"`
	Token Token `json:"token"`
}

// LoadOrCreateDemo returns the demo recorded in path when its app still
// exists at the issuer, and otherwise creates a new one and records it
// (mode 0600: the file holds the token's secret).
func LoadOrCreateDemo(ctx context.Context, issuer *Issuer, path string) (Demo, error) {
	var d Demo
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &d); err != nil {
			return d, fmt.Errorf("%s is damaged (delete it to start over): %w", path, err)
		}
		if issuer.CLI(ctx, nil, "apps", "get", d.App.ID) == nil {
			return d, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return d, err
	}
	var err error
	if d.App, err = issuer.CreateApp(ctx, "demo", "localhost"); err != nil {
		return d, err
	}
	if err = issuer.AdmitServiceTokens(ctx, d.App.ID, "any_valid_service_token"); err != nil {
		return d, err
	}
	if d.Token, err = issuer.CreateToken(ctx, "demo-client"); err != nil {
		return d, err
	}
	b, _ := json.MarshalIndent(d, "", "  ")
	return d, os.WriteFile(path, b, 0o600)
}

// ExchangeOnce sends t's header pair through the proxy at proxyURL and
// returns the session cookie the filter set.
func ExchangeOnce(ctx context.Context, proxyURL string, t Token) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, proxyURL+"/", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("CF-Access-Client-Id", t.ClientID)
	req.Header.Set("CF-Access-Client-Secret", t.ClientSecret)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	for _, c := range resp.Cookies() {
		if c.Name == "CF_Authorization" {
			return c.Value, nil
		}
	}
	return "", errors.New("the response set no CF_Authorization cookie")
}
