package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
)

// Direct calls of an issuer's HTTP API, for tests that need many of them
// (the CLI, stack.Issuer.CreateToken, costs a process each) or must survive
// a replica that stops answering.

var apiClient = &http.Client{Timeout: 10 * time.Second}

// issuerPost posts body to url (with adminKey as the bearer key when not
// empty) and returns the status and the answer; a replica that does not
// answer gives status 0 and the error's text.
func issuerPost(ctx context.Context, url, adminKey, body string) (int, []byte) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if adminKey != "" {
		req.Header.Set("Authorization", "Bearer "+adminKey)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// createTokenStatus creates a token named name and returns the status.
func createTokenStatus(ctx context.Context, iss *stack.Issuer, name string) (int, stack.Token) {
	code, b := issuerPost(ctx, iss.URL+"/v1/service-tokens", iss.AdminKey, fmt.Sprintf(`{"name":%q}`, name))
	var tok stack.Token
	if code == http.StatusCreated {
		json.Unmarshal(b, &tok)
	}
	return code, tok
}

// createToken creates a token named name, which must succeed.
func createToken(t *testing.T, ctx context.Context, iss *stack.Issuer, name string) stack.Token {
	t.Helper()
	code, tok := createTokenStatus(ctx, iss, name)
	if code != http.StatusCreated || tok.ClientSecret == "" {
		t.Fatalf("create token %s: %d", name, code)
	}
	return tok
}

// exchangeAt exchanges tok for a session of aud at an issuer, directly:
// the status, and the JWT of a 200.
func exchangeAt(ctx context.Context, issuerURL string, tok stack.Token, aud string) (int, string) {
	body := fmt.Sprintf(`{"client_id":%q,"client_secret":%q,"aud":%q}`, tok.ClientID, tok.ClientSecret, aud)
	code, b := issuerPost(ctx, issuerURL+"/v1/exchange", "", body)
	var out struct {
		JWT string `json:"jwt"`
	}
	if code == http.StatusOK {
		json.Unmarshal(b, &out)
	}
	return code, out.JWT
}

// mustExchange is exchangeAt that must give a session.
func mustExchange(t *testing.T, ctx context.Context, issuerURL string, tok stack.Token, aud string) string {
	t.Helper()
	code, jwt := exchangeAt(ctx, issuerURL, tok, aud)
	if code != http.StatusOK || jwt == "" {
		t.Fatalf("exchange for %s: %d", aud, code)
	}
	return jwt
}

// proxyStatus sends GET / through the proxy at proxyURL and returns the
// status and the reason of a local reply; a proxy that does not answer
// gives 0 and the error's text.
func proxyStatus(ctx context.Context, proxyURL string, headers map[string]string) (int, string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxyURL+"/", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	var reply struct{ Reason string }
	json.NewDecoder(resp.Body).Decode(&reply)
	return resp.StatusCode, reply.Reason
}

// readBody returns resp's body as text, for failure messages.
func readBody(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
