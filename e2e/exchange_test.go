package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/svcauth/svcauth/e2e/stack"
)

func TestExchangeThroughDevProxy(t *testing.T) {
	e := newEnv(t)

	t.Run("no credentials", func(t *testing.T) {
		resp := e.get(t, "/", nil)
		assertStatusReason(t, resp, http.StatusUnauthorized, "missing_credentials")
	})

	t.Run("wrong secret", func(t *testing.T) {
		other, err := e.issuer.CreateToken(e.ctx, "e2e-other")
		if err != nil {
			t.Fatal(err)
		}
		denied := e.exchanges(t, "denied")
		// A well-formed secret that belongs to another token: only the issuer can tell.
		resp := e.get(t, "/", map[string]string{"CF-Access-Client-Id": e.token.ClientID, "CF-Access-Client-Secret": other.ClientSecret})
		assertStatusReason(t, resp, http.StatusUnauthorized, "invalid_secret")
		if got := e.exchanges(t, "denied"); got != denied+1 {
			t.Fatalf("denied exchanges at the issuer: %d, want %d", got, denied+1)
		}
	})

	var cookie string
	t.Run("valid headers", func(t *testing.T) {
		issued := e.exchanges(t, "issued")
		resp := e.get(t, "/some/path?q=1", e.credentials())
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var echoed stack.Echoed
		if err := json.NewDecoder(resp.Body).Decode(&echoed); err != nil {
			t.Fatal(err)
		}
		if echoed.Path != "/some/path?q=1" {
			t.Errorf("upstream saw path %q", echoed.Path)
		}
		assertion := echoed.Headers.Get("Cf-Access-Jwt-Assertion")
		if strings.Count(assertion, ".") != 2 {
			t.Errorf("upstream got no JWT assertion: %q", assertion)
		}
		if v := echoed.Headers.Values("Cf-Access-Client-Secret"); len(v) != 0 {
			t.Errorf("the client secret reached the upstream")
		}
		setCookie := resp.Header.Get("Set-Cookie")
		for _, attr := range []string{"CF_Authorization=" + assertion, "Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age="} {
			if !strings.Contains(setCookie, attr) {
				t.Errorf("Set-Cookie %q lacks %q", setCookie, attr)
			}
		}
		if got := e.exchanges(t, "issued"); got != issued+1 {
			t.Errorf("issued exchanges at the issuer: %d, want %d", got, issued+1)
		}
		cookie = assertion
	})
	if cookie == "" {
		t.Fatal("no session cookie to continue with")
	}

	t.Run("cookie alone, no second exchange", func(t *testing.T) {
		issued := e.exchanges(t, "issued")
		for i := 0; i < 3; i++ {
			resp := e.get(t, "/", map[string]string{"Cookie": "theme=dark; CF_Authorization=" + cookie})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d with the cookie: status %d", i, resp.StatusCode)
			}
		}
		if got := e.exchanges(t, "issued"); got != issued {
			t.Fatalf("cookie requests caused %d exchanges at the issuer", got-issued)
		}
	})

	t.Run("tampered cookie", func(t *testing.T) {
		parts := strings.Split(cookie, ".")
		sig := []byte(parts[2])
		if sig[0] == 'A' {
			sig[0] = 'B'
		} else {
			sig[0] = 'A'
		}
		tampered := parts[0] + "." + parts[1] + "." + string(sig)
		resp := e.get(t, "/", map[string]string{"Cookie": "CF_Authorization=" + tampered})
		assertStatusReason(t, resp, http.StatusUnauthorized, "bad_signature")
	})

	t.Run("client-supplied assertion is replaced", func(t *testing.T) {
		headers := map[string]string{"Cookie": "CF_Authorization=" + cookie, "Cf-Access-Jwt-Assertion": "forged"}
		resp := e.get(t, "/", headers)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		last, _ := e.upstream.Last()
		if got := last.Values("Cf-Access-Jwt-Assertion"); len(got) != 1 || got[0] != cookie {
			t.Fatalf("upstream assertion headers %q, want only the verified session", got)
		}
	})
}

func assertStatusReason(t *testing.T, resp *http.Response, status int, reason string) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var got struct{ Error, Reason string }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %s", body)
	}
	if got.Reason != reason {
		t.Fatalf("reason %q, want %q (body %s)", got.Reason, reason, body)
	}
}
