package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage"
)

// TestDeletedTokenNeverExchangesAgain: deleting a token retires its client
// id for good. Re-importing the same pair (say, from an old Cloudflare
// export) is refused with 409, so the deleted credential stays dead.
func TestDeletedTokenNeverExchangesAgain(t *testing.T) {
	h, app := lifecycleHarness(t)
	clientID := credential.NewClientID()
	secret := strings.Repeat("5a", 32)
	var imported apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens/import",
		body: apiv1.ImportTokenRequest{Name: "from-cloudflare", ClientID: clientID, ClientSecret: secret}}, 201, &imported)
	imported.ClientSecret = secret
	generated := h.createToken("generated", "")
	for _, tok := range []apiv1.Token{imported, generated} {
		h.wantExchange(tok, app.AUD, 200, "")
		h.call(request{method: "DELETE", path: "/v1/service-tokens/" + tok.ID}, 204, nil)
		h.wantExchange(tok, app.AUD, 401, "unknown_client")

		for _, name := range []string{tok.Name, tok.Name + "-again"} {
			rec := h.call(request{method: "POST", path: "/v1/service-tokens/import",
				body: apiv1.ImportTokenRequest{Name: name, ClientID: tok.ClientID, ClientSecret: tok.ClientSecret}}, 409, nil)
			if e := decodeError(t, rec); e.Error != "conflict" || !strings.Contains(e.Message, "deleted service token") || strings.Contains(rec.Body.String(), tok.ClientSecret) {
				t.Fatalf("re-import of %s: %s", tok.Name, rec.Body.String())
			}
		}
		h.wantExchange(tok, app.AUD, 401, "unknown_client")
	}
	// The name is free again: a fresh token may take it, with a new client id.
	again := h.createToken("from-cloudflare", "")
	if again.ClientID == clientID {
		t.Fatal("a new token got the retired client id")
	}
	h.wantExchange(again, app.AUD, 200, "")
	if rows := h.audit("event=token.created"); len(rows) != 3 {
		t.Fatalf("refused imports wrote audit rows: %+v", rows)
	}
}

// TestNoSecretOrHashAnywhere runs every lifecycle operation and every kind of
// exchange, then scans every audit row (straight from storage and through
// the API) and every log line for each secret the run produced or used —
// client secrets (current, rotated, imported, wrong), admin keys, the master
// key, session keys and session JWTs — and for each secret's keyed hash in
// hex and base64.
func TestNoSecretOrHashAnywhere(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	app := h.createApp("billing", "")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)

	type secret struct {
		what  string
		value string
		hash  []byte // keyed hash as stored, if any
	}
	var secrets []secret
	client := func(what, s string) { secrets = append(secrets, secret{what, s, h.keys.HashSecret(s)}) }
	admin := func(what, k string) { secrets = append(secrets, secret{what, k, h.keys.HashAdminKey(k)}) }
	admin("initial admin key", h.adminKey)
	secrets = append(secrets, secret{what: "master key", value: string(bytes.Repeat([]byte{42}, keys.MasterKeySize))})

	exchange := func(tok apiv1.Token, want int) {
		t.Helper()
		rec := h.exchange(tok, app.AUD)
		if rec.Code != want {
			t.Fatalf("exchange for %s: %d, want %d: %s", tok.Name, rec.Code, want, rec.Body.String())
		}
		if want == 200 {
			var resp apiv1.ExchangeResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, secret{what: "session JWT", value: resp.JWT})
		}
	}

	// A second admin key does everything that follows.
	var second apiv1.AdminKey
	h.call(request{method: "POST", path: "/v1/admin-keys", body: apiv1.CreateAdminKeyRequest{Name: "automation"}}, 201, &second)
	admin("second admin key", second.Key)
	as := func(r request) request { r.key = &second.Key; return r }

	var tok apiv1.Token
	h.call(as(request{method: "POST", path: "/v1/service-tokens", body: apiv1.CreateTokenRequest{Name: "ci", Duration: "720h"}}), 201, &tok)
	client("created secret", tok.ClientSecret)
	exchange(tok, 200)
	wrong := tok
	wrong.ClientSecret = credential.NewSecret()
	client("another well-formed secret", wrong.ClientSecret)
	exchange(wrong, 401)
	typo := tok
	typo.ClientSecret = mistyped(tok.ClientSecret)
	client("mistyped secret", typo.ClientSecret)
	exchange(typo, 401)
	swapped := tok
	swapped.ClientID, swapped.ClientSecret = tok.ClientSecret, tok.ClientID
	exchange(swapped, 401)

	var rotated apiv1.Token
	h.call(as(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/rotate", body: `{"grace":"1h"}`}), 200, &rotated)
	client("rotated secret", rotated.ClientSecret)
	exchange(tok, 200)
	exchange(rotated, 200)
	var rotatedAgain apiv1.Token
	h.call(as(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/rotate"}), 200, &rotatedAgain)
	client("secret rotated without grace", rotatedAgain.ClientSecret)
	exchange(rotated, 401)
	exchange(rotatedAgain, 200)
	h.call(as(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/refresh"}), 200, nil)
	h.call(as(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"name":"ci-prod","duration":"48h"}`}), 200, nil)
	h.call(as(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"enabled":false}`}), 200, nil)
	exchange(rotatedAgain, 401)
	h.call(as(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"enabled":true}`}), 200, nil)
	h.Advance(49 * time.Hour)
	exchange(rotatedAgain, 401) // expired
	h.call(as(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/refresh"}), 200, nil)
	exchange(rotatedAgain, 200)

	hexSecret := strings.Repeat("c0ffee", 10) + "abcd"
	client("imported secret", hexSecret)
	imported := apiv1.Token{Name: "from-cloudflare", ClientID: credential.NewClientID(), ClientSecret: hexSecret}
	h.call(as(request{method: "POST", path: "/v1/service-tokens/import",
		body: apiv1.ImportTokenRequest{Name: imported.Name, ClientID: imported.ClientID, ClientSecret: hexSecret}}), 201, nil)
	exchange(imported, 200)
	h.call(as(request{method: "POST", path: "/v1/service-tokens/import",
		body: apiv1.ImportTokenRequest{Name: "dup", ClientID: imported.ClientID, ClientSecret: hexSecret}}), 409, nil)
	h.call(as(request{method: "POST", path: "/v1/service-tokens/import",
		body: apiv1.ImportTokenRequest{Name: "bad", ClientID: credential.NewClientID(), ClientSecret: strings.ToUpper(hexSecret)}}), 400, nil)
	client("refused import secret", strings.ToUpper(hexSecret))

	var named apiv1.Token
	h.call(as(request{method: "POST", path: "/v1/service-tokens", body: apiv1.CreateTokenRequest{Name: "named"}}), 201, &named)
	client("named token's secret", named.ClientSecret)
	other := h.createApp("other", "")
	h.createPolicy(other.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleServiceToken(named.ID)}, nil)
	h.call(as(request{method: "DELETE", path: "/v1/service-tokens/" + named.ID}), 409, nil)
	h.call(as(request{method: "DELETE", path: "/v1/service-tokens/" + named.ID + "?force=true"}), 204, nil)
	exchange(named, 401)
	h.call(as(request{method: "DELETE", path: "/v1/service-tokens/" + imported.ID}), 404, nil) // not its id: the name
	h.call(as(request{method: "POST", path: "/v1/apps/" + app.ID + "/revoke-sessions"}), 200, nil)
	exchange(imported, 200)

	// A client that puts its secret where it does not belong.
	h.do(request{method: "POST", path: "/v1/exchange", key: ptr(""),
		body: `{"client_id":"` + tok.ClientID + `","client_secret":"` + rotatedAgain.ClientSecret + `","aud":"` + app.AUD + `","secret":"` + rotatedAgain.ClientSecret + `"}`})
	h.do(request{method: "POST", path: "/v1/exchange", key: ptr(""),
		body: apiv1.ExchangeRequest{ClientID: tok.ClientID, ClientSecret: rotatedAgain.ClientSecret, AUD: app.AUD, SourceIP: rotatedAgain.ClientSecret, RequestID: rotatedAgain.ClientSecret}})
	h.do(request{method: "GET", path: "/v1/apps", header: map[string]string{"X-Request-Id": rotatedAgain.ClientSecret}})
	h.do(request{method: "GET", path: "/v1/service-tokens/" + rotatedAgain.ClientSecret})
	h.do(request{method: "GET", path: "/v1/nothing/" + hexSecret})
	// An operator who sends a client secret as an admin key.
	h.do(request{method: "GET", path: "/v1/apps", key: &rotatedAgain.ClientSecret})

	h.Advance(40 * 24 * time.Hour)
	if n, err := h.srv.CleanupInactiveTokens(ctx, 30, "delete"); err != nil || n == 0 {
		t.Fatalf("clean-up: %d %v", n, err)
	}
	if err := h.srv.FlushLastSeen(ctx); err != nil {
		t.Fatal(err)
	}
	var keyList apiv1.List[apiv1.AdminKey]
	h.call(request{method: "GET", path: "/v1/admin-keys"}, 200, &keyList)
	h.call(request{method: "DELETE", path: "/v1/admin-keys/" + second.ID}, 200, nil)

	for _, a := range []apiv1.App{app, other} {
		k := h.keys.SessionKey(a.AUD, 1)
		secrets = append(secrets, secret{what: "session key of " + a.Name, value: string(k.Secret)})
	}

	// Everything that could hold a secret: every audit row, as stored and as
	// the API shows it, and every log line.
	rows, err := h.store.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 30 {
		t.Fatalf("only %d audit rows: the lifecycle did not run", len(rows))
	}
	var stored strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&stored, "%+v\n", r)
	}
	haystacks := map[string]string{
		"stored audit rows": stored.String(),
		"audit API":         h.call(request{method: "GET", path: "/v1/audit?limit=1000"}, 200, nil).Body.String(),
		"logs":              h.logs.String(),
	}
	for _, s := range secrets {
		needles := encodings([]byte(s.value))
		if s.hash != nil {
			needles = append(needles, encodings(s.hash)...)
		}
		for where, hay := range haystacks {
			for _, n := range needles {
				if len(n) >= 16 && strings.Contains(hay, n) {
					t.Errorf("%s holds the %s (or its hash)", where, s.what)
				}
			}
		}
	}
	// The scan must be able to find what it looks for: the audit rows do
	// name the tokens and client ids.
	if !strings.Contains(haystacks["audit API"], tok.ClientID) || !strings.Contains(haystacks["logs"], tok.ID) {
		t.Fatal("the scanned text lacks the token's client id or id: the scan looks at the wrong place")
	}
}

// encodings returns b as is and in hex and every base64 alphabet.
func encodings(b []byte) []string {
	return []string{
		string(b),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
}
