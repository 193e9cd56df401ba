package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/e2e/stack"
)

// lcToken is a service token as `svcauth tokens … -o json` prints it.
type lcToken struct {
	ID                      string     `json:"id"`
	Name                    string     `json:"name"`
	ClientID                string     `json:"client_id"`
	ClientSecret            string     `json:"client_secret"`
	ClientSecretVersion     int        `json:"client_secret_version"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	Duration                string     `json:"duration"`
	ExpiresAt               *time.Time `json:"expires_at"`
	Enabled                 bool       `json:"enabled"`
	Status                  string     `json:"status"`
}

// lcEvent is an audit event as `svcauth audit -o json` prints it.
type lcEvent struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Actor     string    `json:"actor"`
	TokenID   string    `json:"token_id"`
	TokenName string    `json:"token_name"`
	ClientID  string    `json:"client_id"`
	AppID     string    `json:"app_id"`
	AppName   string    `json:"app_name"`
	PolicyID  string    `json:"policy_id"`
	SourceIP  string    `json:"source_ip"`
	RequestID string    `json:"request_id"`
	Reason    string    `json:"reason"`
	Detail    string    `json:"detail"`
}

// TestTokenLifecycleThroughProxy drives the service-token lifecycle with the
// CLI against the real issuer process and checks each step with real HTTP
// requests through the proxy running the real filter: rotation with a grace
// period, refresh, disable/enable, delete, import of a Cloudflare-style
// 64-hex secret, and the audit log of all of it.
//
// The assertions hold whether or not the filter caches exchanged sessions
// per credential pair: every "this secret is refused" check sends a pair the
// proxy it goes through has never seen (a fresh proxy when needed), and the
// checks that depend on the filter learning about a change from the issuer
// (sync) allow for its sync period.
func TestTokenLifecycleThroughProxy(t *testing.T) {
	e := newEnv(t)
	// A second proxy, for checks that must reach the issuer: a pair it has
	// never let through cannot be answered from any cache of its own.
	fresh := e.startProxy(t, e.app)
	var secrets []string // every client secret the test handles
	requests := 0

	// send sends one request with the pair through proxy and returns the
	// status, the reason of a refusal, and the request id it used.
	send := func(t *testing.T, proxy *stack.DevProxy, clientID, secret string) (int, string, string) {
		t.Helper()
		requests++
		rid := fmt.Sprintf("e2e-lifecycle-%d", requests)
		resp := getVia(t, e.ctx, proxy.URL, "/lifecycle",
			map[string]string{"CF-Access-Client-Id": clientID, "CF-Access-Client-Secret": secret, "X-Request-Id": rid})
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var refusal struct{ Reason string }
		if resp.StatusCode != http.StatusOK {
			if err := json.Unmarshal(body, &refusal); err != nil {
				t.Fatalf("status %d with a body that is not JSON: %s", resp.StatusCode, body)
			}
		}
		return resp.StatusCode, refusal.Reason, rid
	}
	want := func(t *testing.T, proxy *stack.DevProxy, tok lcToken, secret string, status int, reason string) string {
		t.Helper()
		got, why, rid := send(t, proxy, tok.ClientID, secret)
		if got != status || (reason != "" && why != reason) {
			t.Fatalf("%s through the %s proxy: %d %q, want %d %q", tok.Name, proxyName(proxy, fresh), got, why, status, reason)
		}
		return rid
	}
	// eventually retries want for up to 15 s: for changes the filter learns
	// about from the issuer on its sync tick.
	eventually := func(t *testing.T, proxy *stack.DevProxy, tok lcToken, secret string, status int, reasons ...string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, why, _ := send(t, proxy, tok.ClientID, secret)
			if got == status && (len(reasons) == 0 || contains(reasons, why)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s through the %s proxy: still %d %q after 15 s, want %d %v", tok.Name, proxyName(proxy, fresh), got, why, status, reasons)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	cli := func(t *testing.T, out any, args ...string) {
		t.Helper()
		if err := e.issuer.CLI(e.ctx, out, args...); err != nil {
			t.Fatal(err)
		}
	}
	create := func(t *testing.T, name string, extra ...string) lcToken {
		t.Helper()
		var tok lcToken
		cli(t, &tok, append([]string{"tokens", "create", "--name", name}, extra...)...)
		if tok.ClientSecret == "" || tok.ClientSecretVersion != 1 || tok.Status != "active" {
			t.Fatalf("created %+v", tok)
		}
		secrets = append(secrets, tok.ClientSecret)
		return tok
	}
	// Token name → request ids of its successful exchanges. Only the first
	// success of a pair through a proxy is recorded: later ones may be
	// answered by the filter without an exchange.
	requestIDs := map[string][]string{}

	t.Run("rotate with grace", func(t *testing.T) {
		tok := create(t, "e2e-rotating")
		var rotated lcToken
		cli(t, &rotated, "tokens", "rotate", tok.ID, "--grace", "3s")
		secrets = append(secrets, rotated.ClientSecret)
		if rotated.ClientSecret == "" || rotated.ClientSecret == tok.ClientSecret || rotated.ClientID != tok.ClientID ||
			rotated.ClientSecretVersion != 2 || rotated.PreviousSecretExpiresAt == nil {
			t.Fatalf("rotated %+v", rotated)
		}
		graceEnd := *rotated.PreviousSecretExpiresAt
		if left := time.Until(graceEnd); left <= 0 || left > 3*time.Second {
			t.Fatalf("previous_secret_expires_at is %v from now, want at most 3 s ahead", left)
		}
		// Within the grace both secrets work. The old one goes first (the
		// grace is short), and it has never been sent before, so it is
		// checked by the issuer, not answered from any filter cache.
		got, why, rid := send(t, e.proxy, tok.ClientID, tok.ClientSecret)
		if time.Now().After(graceEnd) {
			t.Fatalf("the 3 s grace ended before the first request was answered (%d %q): machine too slow", got, why)
		}
		if got != http.StatusOK {
			t.Fatalf("old secret within the grace: %d %q, want 200", got, why)
		}
		requestIDs[tok.Name] = append(requestIDs[tok.Name], rid)
		requestIDs[tok.Name] = append(requestIDs[tok.Name], want(t, e.proxy, rotated, rotated.ClientSecret, 200, ""))
		var shown lcToken
		cli(t, &shown, "tokens", "get", tok.ID)
		if shown.ClientSecret != "" || shown.ClientSecretVersion != 2 {
			t.Fatalf("get after rotate shows %+v", shown)
		}

		// After the grace only the new secret works. Checked through a proxy
		// that has never seen either pair, and at the issuer.
		time.Sleep(time.Until(graceEnd) + 300*time.Millisecond)
		denied := e.exchanges(t, "denied")
		want(t, fresh, tok, tok.ClientSecret, 401, "invalid_secret")
		if got := e.exchanges(t, "denied"); got != denied+1 {
			t.Fatalf("the issuer counted %d denied exchanges for the old secret, want 1", got-denied)
		}
		requestIDs[tok.Name] = append(requestIDs[tok.Name], want(t, fresh, rotated, rotated.ClientSecret, 200, ""))
		// The proxy that let the old pair through during the grace cached a
		// session for it; once it learns the grace is over (sync), it stops
		// serving that session for the pair and asks the issuer, which refuses.
		eventually(t, e.proxy, tok, tok.ClientSecret, 401, "invalid_secret")

		// Rotating again without a grace revokes the previous secret at once.
		var again lcToken
		cli(t, &again, "tokens", "rotate", tok.ID)
		secrets = append(secrets, again.ClientSecret)
		if again.ClientSecretVersion != 3 || again.PreviousSecretExpiresAt != nil {
			t.Fatalf("rotated without grace %+v", again)
		}
		want(t, e.proxy, again, again.ClientSecret, 200, "")
		// Both proxies let the previous pair through before: they learn of
		// the revocation on their next sync, if they hold a session for it.
		eventually(t, fresh, rotated, rotated.ClientSecret, 401, "invalid_secret", "revoked")
		eventually(t, e.proxy, rotated, rotated.ClientSecret, 401, "invalid_secret", "revoked")
	})

	t.Run("refresh", func(t *testing.T) {
		tok := create(t, "e2e-refresh", "--duration", "240h")
		requestIDs[tok.Name] = append(requestIDs[tok.Name], want(t, e.proxy, tok, tok.ClientSecret, 200, ""))
		var changed lcToken
		before := time.Now()
		cli(t, &changed, "tokens", "set-duration", tok.ID, "480h")
		assertExpiry(t, "set-duration 480h", changed.ExpiresAt, before, time.Now(), 480*time.Hour)
		before = time.Now()
		var refreshed lcToken
		cli(t, &refreshed, "tokens", "refresh", tok.ID)
		assertExpiry(t, "refresh", refreshed.ExpiresAt, before, time.Now(), 480*time.Hour)
		if refreshed.Duration != "480h" || refreshed.Status != "active" {
			t.Fatalf("refreshed %+v", refreshed)
		}
		requestIDs[tok.Name] = append(requestIDs[tok.Name], want(t, fresh, tok, tok.ClientSecret, 200, ""))
	})

	t.Run("disable and enable", func(t *testing.T) {
		tok := create(t, "e2e-toggle")
		var got lcToken
		cli(t, &got, "tokens", "disable", tok.ID)
		if got.Enabled || got.Status != "disabled" {
			t.Fatalf("disabled %+v", got)
		}
		want(t, e.proxy, tok, tok.ClientSecret, 401, "token_disabled")
		cli(t, &got, "tokens", "enable", tok.ID)
		if !got.Enabled || got.Status != "active" {
			t.Fatalf("enabled %+v", got)
		}
		eventually(t, e.proxy, tok, tok.ClientSecret, 200)
		requestIDs[tok.Name] = append(requestIDs[tok.Name], want(t, fresh, tok, tok.ClientSecret, 200, ""))
	})

	t.Run("delete", func(t *testing.T) {
		tok := create(t, "e2e-doomed")
		requestIDs[tok.Name] = append(requestIDs[tok.Name], want(t, e.proxy, tok, tok.ClientSecret, 200, ""))
		stdout, stderr, code, err := e.issuer.RunCLI(e.ctx, "tokens", "delete", tok.ID)
		if err != nil || code != 0 || !strings.Contains(stdout, "Deleted") {
			t.Fatalf("tokens delete: exit %d %v\n%s%s", code, err, stdout, stderr)
		}
		want(t, fresh, tok, tok.ClientSecret, 401, "unknown_client")
		// The proxy that saw the pair before may hold a session for it
		// until it syncs the deletion.
		eventually(t, e.proxy, tok, tok.ClientSecret, 401, "unknown_client", "revoked")

		// A deleted credential never comes back, even re-imported as it was.
		file := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(file, []byte(tok.ClientSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr, code, err = e.issuer.RunCLI(e.ctx, "tokens", "import", "--name", "e2e-doomed-again",
			"--client-id", tok.ClientID, "--client-secret-file", file)
		if err != nil || code != 1 || !strings.Contains(stderr, "409") || !strings.Contains(stderr, "deleted") || strings.Contains(stderr, tok.ClientSecret) {
			t.Fatalf("re-import of a deleted token: exit %d %v: %s", code, err, stderr)
		}
		// fresh has never let this pair through, so nothing it holds can.
		want(t, fresh, tok, tok.ClientSecret, 401, "unknown_client")
	})

	t.Run("import a 64-hex secret", func(t *testing.T) {
		id, secret := randomHex(16)+".access", randomHex(32)
		secrets = append(secrets, secret)
		file := filepath.Join(t.TempDir(), "cloudflare-secret")
		if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var tok lcToken
		cli(t, &tok, "tokens", "import", "--name", "e2e-imported", "--client-id", id, "--client-secret-file", file)
		if tok.ClientID != id || tok.ClientSecret != "" || tok.ClientSecretVersion != 1 || tok.Status != "active" {
			t.Fatalf("imported %+v", tok)
		}
		requestIDs[tok.Name] = append(requestIDs[tok.Name], want(t, e.proxy, tok, secret, 200, ""))
		last, _ := e.upstream.Last()
		if strings.Count(last.Get("Cf-Access-Jwt-Assertion"), ".") != 2 || len(last.Values("Cf-Access-Client-Secret")) != 0 {
			t.Fatalf("upstream headers after the imported token's request: %v", last)
		}
		wrong := randomHex(32)
		want(t, e.proxy, tok, wrong, 401, "invalid_secret")
	})

	t.Run("audit log", func(t *testing.T) {
		// Exchange rows may be written in batches: wait until every
		// successful exchange is in.
		var events []lcEvent
		deadline := time.Now().Add(15 * time.Second)
		for {
			events = nil
			cli(t, &events, "audit", "--limit", "1000")
			if n := count(events, func(ev lcEvent) bool { return ev.Event == "session.issued" }); n >= countAll(requestIDs) || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		first, last := -1, -1
		for i, ev := range events {
			if ev.Event == "token.created" && ev.TokenName == "e2e-imported" && first < 0 {
				first = i
			}
			if ev.Event == "token.created" && ev.TokenName == "e2e-rotating" {
				last = i
			}
		}
		if first < 0 || last < 0 || first > last {
			t.Errorf("audit not newest first: the last token created is at %d, the first at %d", first, last)
		}
		has := func(event, name string, check func(lcEvent) bool) {
			t.Helper()
			for _, ev := range events {
				if ev.Event == event && ev.TokenName == name && (check == nil || check(ev)) {
					return
				}
			}
			t.Errorf("audit has no %s row for %s", event, name)
		}
		admin := func(ev lcEvent) bool { return ev.Actor == "initial" && ev.TokenID != "" && ev.ClientID != "" }
		for _, name := range []string{"e2e-rotating", "e2e-refresh", "e2e-toggle", "e2e-doomed"} {
			has("token.created", name, admin)
		}
		has("token.created", "e2e-imported", func(ev lcEvent) bool { return admin(ev) && strings.Contains(ev.Detail, "imported") })
		has("token.rotated", "e2e-rotating", func(ev lcEvent) bool { return admin(ev) && strings.Contains(ev.Detail, "valid until") })
		has("token.rotated", "e2e-rotating", func(ev lcEvent) bool { return admin(ev) && strings.Contains(ev.Detail, "revoked") })
		has("token.updated", "e2e-refresh", func(ev lcEvent) bool { return admin(ev) && strings.Contains(ev.Detail, "duration 480h") })
		has("token.refreshed", "e2e-refresh", admin)
		has("token.updated", "e2e-toggle", func(ev lcEvent) bool { return admin(ev) && ev.Detail == "disabled" })
		has("token.updated", "e2e-toggle", func(ev lcEvent) bool { return admin(ev) && ev.Detail == "enabled" })
		has("token.deleted", "e2e-doomed", admin)
		has("session.denied", "e2e-rotating", func(ev lcEvent) bool { return ev.Reason == "invalid_secret" })
		has("session.denied", "e2e-toggle", func(ev lcEvent) bool { return ev.Reason == "token_disabled" })
		has("session.denied", "e2e-imported", func(ev lcEvent) bool { return ev.Reason == "invalid_secret" })
		for name, rids := range requestIDs {
			for _, rid := range rids {
				has("session.issued", name, func(ev lcEvent) bool {
					return ev.Actor == "exchange" && ev.TokenID != "" && ev.ClientID != "" && ev.AppID == e.app.ID &&
						ev.AppName == "e2e-app" && ev.PolicyID != "" && ev.SourceIP != "" &&
						(ev.RequestID == rid || target == stack.TargetEnvoy && ev.RequestID != "")
				})
			}
		}

		// The table form names the tokens too.
		stdout, _, code, err := e.issuer.RunCLI(e.ctx, "audit", "--token", eventsTokenID(events, "e2e-rotating"))
		if err != nil || code != 0 || !strings.Contains(stdout, "token.rotated") || !strings.Contains(stdout, "e2e-rotating") {
			t.Errorf("audit --token table: exit %d %v\n%s", code, err, stdout)
		}

		// No secret anywhere: not in the audit log, nor in the issuer's output.
		raw, _, _, _ := e.issuer.RunCLI(e.ctx, "audit", "--limit", "1000", "-o", "json")
		for _, s := range secrets {
			if strings.Contains(raw, s) || strings.Contains(e.issuer.Output(), s) {
				t.Errorf("a client secret is in the audit log or the issuer's output")
			}
		}
	})
}

func assertExpiry(t *testing.T, what string, got *time.Time, before, after time.Time, d time.Duration) {
	t.Helper()
	if got == nil || got.Before(before.Add(d).Add(-time.Second)) || got.After(after.Add(d).Add(time.Second)) {
		t.Fatalf("%s: expires_at %v, want now + %s (between %v and %v)", what, got, d, before.Add(d), after.Add(d))
	}
}

func proxyName(p, fresh *stack.DevProxy) string {
	if p == fresh {
		return "fresh"
	}
	return "first"
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func count(events []lcEvent, f func(lcEvent) bool) int {
	n := 0
	for _, ev := range events {
		if f(ev) {
			n++
		}
	}
	return n
}

func countAll(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

func eventsTokenID(events []lcEvent, name string) string {
	for _, ev := range events {
		if ev.TokenName == name && ev.TokenID != "" {
			return ev.TokenID
		}
	}
	return "none"
}
