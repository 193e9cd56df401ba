package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/svcauth/svcauth/e2e/stack"
	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/filter/session/sessiontest"
)

// originIssuer is the iss of the sessions in these tests: set with
// --issuer-url, and not the issuer's address, as behind a load balancer.
const originIssuer = "https://svcauth-team.example.test"

// validatingOrigin is an upstream that trusts nothing the proxy says about
// the caller: it verifies Cf-Access-Jwt-Assertion itself, as Cloudflare
// tells origins to, twice, with two libraries nobody here wrote:
//   - github.com/coreos/go-oidc/v3, the way Cloudflare's Go example does it
//     (oidc.NewRemoteKeySet on the certs URL, NewVerifier with the expected
//     iss and aud as ClientID);
//   - github.com/lestrrat-go/jwx/v2, fetching the issuer's JWKS from
//     /.well-known/jwks.json and checking iss and aud.
//
// It answers 200 only when both accept, else 403 with both verdicts.
type validatingOrigin struct {
	oidc    *oidc.IDTokenVerifier
	jwksURL string
	aud     string

	mu   sync.Mutex
	seen []string // assertions both libraries accepted
}

func newValidatingOrigin(ctx context.Context, issuerURL, aud string) *validatingOrigin {
	keySet := oidc.NewRemoteKeySet(ctx, issuerURL+"/cdn-cgi/access/certs")
	return &validatingOrigin{
		oidc:    oidc.NewVerifier(originIssuer, keySet, &oidc.Config{ClientID: aud}),
		jwksURL: issuerURL + "/.well-known/jwks.json",
		aud:     aud,
	}
}

// verdicts is what each library says of one assertion (nil: accepted).
type verdicts struct{ oidc, jwx error }

func (v verdicts) err() error {
	if v.oidc == nil && v.jwx == nil {
		return nil
	}
	return fmt.Errorf("go-oidc: %v; jwx: %v", v.oidc, v.jwx)
}

// verify returns each library's verdict on assertion, apart: a forgery
// must be refused by both, not by at least one.
func (o *validatingOrigin) verify(ctx context.Context, assertion string) verdicts {
	var v verdicts
	if tok, err := o.oidc.Verify(ctx, assertion); err != nil {
		v.oidc = err
	} else {
		var claims struct {
			Type       string `json:"type"`
			CommonName string `json:"common_name"`
		}
		if err := tok.Claims(&claims); err != nil || claims.Type != "app" || claims.CommonName == "" {
			v.oidc = fmt.Errorf("claims %+v %v", claims, err)
		}
	}
	set, err := jwk.Fetch(ctx, o.jwksURL)
	if err == nil {
		_, err = jwt.ParseString(assertion, jwt.WithKeySet(set), jwt.WithValidate(true),
			jwt.WithIssuer(originIssuer), jwt.WithAudience(o.aud))
	}
	v.jwx = err
	return v
}

func (o *validatingOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	assertion := r.Header.Get("Cf-Access-Jwt-Assertion")
	if err := o.verify(r.Context(), assertion).err(); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	o.mu.Lock()
	o.seen = append(o.seen, assertion)
	o.mu.Unlock()
	w.Write([]byte("verified"))
}

// TestOriginVerifiesRS256Assertion: an origin configured as for Cloudflare
// Access (certs URL, issuer string, aud) verifies svcauth's assertion
// after an exchange and on a cookie-only request; after a key rotation and
// its activation, sessions signed with the old key and with the new one
// both verify; a forged assertion, and an HS256 one, do not.
func TestOriginVerifiesRS256Assertion(t *testing.T) {
	if targetSkip != "" {
		t.Skip(targetSkip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	iss, err := stack.StartIssuer(ctx, stack.IssuerOptions{BinDir: binDir, StateDir: t.TempDir(), IssuerURL: originIssuer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		iss.Stop()
		if t.Failed() {
			t.Logf("issuer output:\n%s", iss.Output())
		}
	})
	app, err := iss.CreateApp(ctx, "grafana", "grafana.example.test", "--session-algorithm", "RS256")
	if err != nil {
		t.Fatal(err)
	}
	hsApp, err := iss.CreateApp(ctx, "billing", "billing.example.test")
	if err != nil {
		t.Fatal(err)
	}
	tok1, tok2 := mustToken(t, ctx, iss, "ci-1"), mustToken(t, ctx, iss, "ci-2")
	for _, a := range []string{app.ID, hsApp.ID} {
		if err := iss.AdmitServiceTokens(ctx, a, "any_valid_service_token"); err != nil {
			t.Fatal(err)
		}
	}

	config := filepath.Join(t.TempDir(), "filter.json")
	if err := iss.WriteFilterConfig(ctx, app.ID, "svcauth-issuer", config); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(config)
	if strings.Contains(string(raw), `"key"`) {
		t.Fatalf("the RS256 app's filter configuration holds a secret key:\n%s", raw)
	}
	setSyncPeriod(t, config)
	origin := newValidatingOrigin(ctx, iss.URL, app.Aud)
	up := httptest.NewServer(origin)
	t.Cleanup(up.Close)
	e := &env{ctx: ctx, issuer: iss}
	proxy := e.runProxy(t, "rs256", config, up.URL)

	through := func(what string, headers map[string]string) (string, string) {
		t.Helper()
		resp := getVia(t, ctx, proxy.URL, "/dashboards", headers)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d; the origin says: %s", what, resp.StatusCode, readBody(resp))
		}
		cookie := ""
		for _, c := range resp.Cookies() {
			if c.Name == "CF_Authorization" {
				cookie = c.Value
			}
		}
		origin.mu.Lock()
		last := origin.seen[len(origin.seen)-1]
		origin.mu.Unlock()
		return cookie, last
	}
	cookie1, assertion := through("exchange", syncCreds(tok1))
	if cookie1 == "" || assertion != cookie1 {
		t.Fatalf("exchange: cookie %q, assertion the origin verified %q", cookie1, assertion)
	}
	if _, a := through("cookie only", syncCookie(cookie1)); a != cookie1 {
		t.Fatal("cookie-only request: the origin verified another assertion")
	}
	kid1 := headerKID(t, cookie1)

	// Rotation: the new key is published at once (the filter syncs it, the
	// certs endpoint lists it), and signs after 2 s.
	var rotated struct {
		KID string `json:"kid"`
		Alg string `json:"alg"`
	}
	if err := iss.CLI(ctx, &rotated, "keys", "rotate", "--app", app.ID, "--activate-after", "2s"); err != nil {
		t.Fatal(err)
	}
	if rotated.Alg != "RS256" || rotated.KID == kid1 {
		t.Fatalf("keys rotate made %+v", rotated)
	}
	time.Sleep(2*time.Second + 2*syncPeriod)
	cookie2, _ := through("exchange after the rotation", syncCreds(tok2))
	if k := headerKID(t, cookie2); k != rotated.KID {
		t.Fatalf("session after the activation signed with %s, want %s", k, rotated.KID)
	}
	through("old session after the rotation", syncCookie(cookie1))
	through("new session cookie only", syncCookie(cookie2))

	// What an origin must refuse, checked with the same two validators.
	hsSession := mustExchange(t, ctx, iss.URL, tok1, hsApp.Aud)
	pubDER := publicKeyDER(t, ctx, iss.URL, kid1)
	forgedSigner, _ := session.NewRSASigner(kid1, sessiontest.RSAKey(0))
	claims := claimsOf(t, cookie1)
	forged, _ := forgedSigner.Sign(claims)
	for name, bad := range map[string]string{
		"signed by another RSA key under the real kid": forged,
		"HS256 keyed with the published public key":    hs256With(t, cookie1, kid1, pubDER),
		"a real HS256 session of another app":          hsSession,
		"alg none": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+kid1+`","typ":"JWT"}`)) + "." +
			strings.Split(cookie1, ".")[1] + ".",
		"tampered claims": tamper(t, cookie1),
	} {
		v := origin.verify(ctx, bad)
		if v.oidc == nil {
			t.Errorf("%s: go-oidc accepted it", name)
		}
		if v.jwx == nil {
			t.Errorf("%s: jwx accepted it", name)
		}
	}
	if err := origin.verify(ctx, cookie1).err(); err != nil {
		t.Fatalf("the genuine session no longer verifies: %v", err)
	}
}

func mustToken(t *testing.T, ctx context.Context, iss *stack.Issuer, name string) stack.Token {
	t.Helper()
	tok, err := iss.CreateToken(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func headerKID(t *testing.T, jwt string) string {
	t.Helper()
	h := sessiontest.JWTPart(t, jwt, 0)
	if h["alg"] != "RS256" {
		t.Fatalf("session alg %v, want RS256", h["alg"])
	}
	kid, _ := h["kid"].(string)
	return kid
}

func claimsOf(t *testing.T, jwt string) session.Claims {
	t.Helper()
	p := sessiontest.JWTPart(t, jwt, 1)
	num := func(k string) int64 { f, _ := p[k].(float64); return int64(f) }
	str := func(k string) string { s, _ := p[k].(string); return s }
	aud, _ := p["aud"].([]any)
	return session.Claims{Type: str("type"), Audience: aud[0].(string), Issuer: str("iss"), IssuedAt: num("iat"),
		NotBefore: num("nbf"), ExpiresAt: num("exp"), CommonName: str("common_name"), ID: str("jti"), TokenID: str("token_id")}
}

// hs256With returns jwt's claims under an HS256 header naming kid, MACed
// with secret: the alg-confusion forgery.
func hs256With(t *testing.T, jwt, kid string, secret []byte) string {
	t.Helper()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + kid + `","typ":"JWT"}`))
	unsigned := header + "." + strings.Split(jwt, ".")[1]
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func tamper(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	p := sessiontest.JWTPart(t, jwt, 1)
	p["common_name"] = "someone-else.access"
	b, _ := json.Marshal(p)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// publicKeyDER returns key kid from the issuer's JWKS, PKIX DER encoded.
func publicKeyDER(t *testing.T, ctx context.Context, issuerURL, kid string) []byte {
	t.Helper()
	set, err := jwk.Fetch(ctx, issuerURL+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	k, ok := set.LookupKeyID(kid)
	if !ok {
		t.Fatalf("kid %s not in the JWKS", kid)
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
