package api_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/filter/session/sessiontest"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

func (h *harness) createRSAApp(name string) apiv1.App {
	h.t.Helper()
	var app apiv1.App
	h.call(request{method: "POST", path: "/v1/apps", body: apiv1.CreateAppRequest{Name: name, Domains: []string{name + ".example.com"},
		SessionAlgorithm: "RS256"}}, 201, &app)
	return app
}

func (h *harness) certs() apiv1.Certs {
	h.t.Helper()
	var c apiv1.Certs
	h.call(request{method: "GET", path: "/cdn-cgi/access/certs", key: ptr("")}, 200, &c)
	return c
}

// certsKeys returns the certs endpoint's keys as session keys, by kid.
func (h *harness) certsKeys() map[string]session.Key {
	h.t.Helper()
	out := map[string]session.Key{}
	for _, k := range h.certs().Keys {
		if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" {
			h.t.Fatalf("certs key %+v", k)
		}
		pub, err := session.ParseRSAPublicJWK(k.N, k.E)
		if err != nil {
			h.t.Fatal(err)
		}
		out[k.KID] = session.Key{ID: k.KID, Public: pub}
	}
	return out
}

// TestRS256App: an RS256 app's exchange signs with its private key; the
// filter configuration, the sync answer and the certs endpoint carry only
// the public key, and the session verifies with what the certs endpoint
// publishes (JWKS and certificate).
func TestRS256App(t *testing.T) {
	h := newHarness(t)
	app := h.createRSAApp("grafana")
	hsApp := h.createApp("billing", "")
	if app.SessionAlgorithm != "RS256" || hsApp.SessionAlgorithm != "HS256" {
		t.Fatalf("session algorithms %q %q", app.SessionAlgorithm, hsApp.SessionAlgorithm)
	}
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	keys := h.appKeys(app.ID)
	if len(keys) != 1 || keys[0].Algorithm != "RS256" || keys[0].State != "signing" {
		t.Fatalf("keys %+v", keys)
	}

	var cfg apiv1.FilterConfig
	rec := h.call(request{method: "GET", path: "/v1/apps/" + app.ID + "/filter-config"}, 200, &cfg)
	if len(cfg.Keys) != 1 || cfg.Keys[0].Alg != "RS256" || cfg.Keys[0].Key != "" || cfg.Keys[0].N == "" || cfg.Keys[0].E != "AQAB" ||
		strings.Contains(rec.Body.String(), `"key"`) {
		t.Fatalf("filter config keys %s", rec.Body.String())
	}

	rec = h.exchange(tok, app.AUD)
	if rec.Code != 200 {
		t.Fatalf("exchange %d %s", rec.Code, rec.Body.String())
	}
	var ex apiv1.ExchangeResponse
	json.Unmarshal(rec.Body.Bytes(), &ex)
	if hd := sessiontest.JWTPart(t, ex.JWT, 0); hd["alg"] != "RS256" || hd["kid"] != keys[0].KID || hd["typ"] != "JWT" {
		t.Fatalf("session header %v", hd)
	}
	published := h.certsKeys()
	if len(published) != 1 {
		t.Fatalf("certs publish %d keys, want the RS256 app's one (never an HS256 app's)", len(published))
	}
	v, err := session.NewVerifier(app.AUD, []session.Key{published[keys[0].KID]}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(ex.JWT, h.Now().Unix()); err != nil || c.CommonName != tok.ClientID {
		t.Fatalf("session does not verify with the certs key: %v", err)
	}
	certs := h.certs()
	if certs.PublicCert == nil || len(certs.PublicCerts) != 1 || certs.PublicCert.KID != keys[0].KID {
		t.Fatalf("public_cert %+v, public_certs %d", certs.PublicCert, len(certs.PublicCerts))
	}
	block, _ := pem.Decode([]byte(certs.PublicCert.Cert))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(published[keys[0].KID].Public) || cert.Subject.CommonName != keys[0].KID {
		t.Fatal("public_cert holds another key")
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Fatalf("public_cert is not self-signed by its key: %v", err)
	}

	// Sync: a filter holding only the public key polls unsigned and gets
	// the answer; an HS256 app's sync still needs a signature.
	unsigned := func(aud string) int {
		return h.do(request{method: "GET", path: "/v1/filter-sync?aud=" + aud, key: ptr("")}).Code
	}
	rec = h.do(request{method: "GET", path: "/v1/filter-sync?aud=" + app.AUD, key: ptr("")})
	var st apiv1.FilterSync
	if err := json.Unmarshal(rec.Body.Bytes(), &st); rec.Code != 200 || err != nil || len(st.Keys) != 1 || st.Keys[0].Alg != "RS256" || st.Keys[0].Key != "" {
		t.Fatalf("unsigned sync of an RS256 app: %d %s", rec.Code, rec.Body.String())
	}
	if code := unsigned(hsApp.AUD); code != 401 {
		t.Fatalf("unsigned sync of an HS256 app: %d", code)
	}
}

// TestSessionAlgorithmSwitch: PATCH session_algorithm is a rotation to a key
// of the other kind, published first and signing after activate_after;
// keys rotate keeps the app's algorithm; the certs endpoint follows.
func TestSessionAlgorithmSwitch(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("grafana", "1h")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	tok := h.createToken("ci", "")
	hsKey := h.keys.SessionKey(app.AUD, 1)
	algOf := func() string {
		rec := h.exchange(tok, app.AUD)
		var ex apiv1.ExchangeResponse
		json.Unmarshal(rec.Body.Bytes(), &ex)
		return sessiontest.JWTPart(t, ex.JWT, 0)["alg"].(string)
	}

	var got apiv1.App
	h.call(request{method: "PATCH", path: "/v1/apps/" + app.ID, body: map[string]string{"session_algorithm": "RS256", "activate_after": "1m"}}, 200, &got)
	if got.SessionAlgorithm != "RS256" || got.KeyVersion != 2 {
		t.Fatalf("after switching: %+v", got)
	}
	if len(h.certsKeys()) != 1 {
		t.Fatal("the pending RS256 key is not published")
	}
	if alg := algOf(); alg != "HS256" {
		t.Fatalf("signed with %s before the RS256 key activates", alg)
	}
	// The filter still holds its HS256 key: its signed poll gets both keys,
	// an unsigned one only the public key.
	if st := h.syncState(app.AUD, hsKey); len(st.Keys) != 2 || st.Keys[0].Key == "" || st.Keys[1].Alg != "RS256" {
		t.Fatalf("signed sync keys %+v", st.Keys)
	}
	rec := h.do(request{method: "GET", path: "/v1/filter-sync?aud=" + app.AUD, key: ptr("")})
	if rec.Code != 200 || strings.Contains(rec.Body.String(), `"key"`) {
		t.Fatalf("unsigned sync during the switch: %d %s", rec.Code, rec.Body.String())
	}
	h.Advance(time.Minute)
	if alg := algOf(); alg != "RS256" {
		t.Fatalf("signed with %s after the RS256 key activated", alg)
	}

	var k apiv1.AppKey
	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/keys/rotate", body: map[string]string{"activate_after": "0s"}}, 201, &k)
	if k.Algorithm != "RS256" || k.Version != 3 {
		t.Fatalf("rotation of an RS256 app made %+v", k)
	}
	if n := len(h.certsKeys()); n != 2 {
		t.Fatalf("certs after rotation: %d keys, want the new and the previous", n)
	}
	// The previous key retires after the session duration and skew.
	h.Advance(time.Hour + domain.KeyRetireSkew + time.Second)
	if keys := h.certsKeys(); len(keys) != 1 || keys[k.KID].Public == nil {
		t.Fatalf("certs after retirement: %v", keys)
	}

	for _, bad := range []map[string]string{
		{"session_algorithm": "ES256"},
		{"session_algorithm": ""},
		{"activate_after": "10s"},
		{"session_algorithm": "HS256", "activate_after": "2h"},
	} {
		rec := h.do(request{method: "PATCH", path: "/v1/apps/" + app.ID, body: bad})
		if rec.Code != 400 {
			t.Fatalf("PATCH %v: %d %s", bad, rec.Code, rec.Body.String())
		}
	}
	rec = h.do(request{method: "POST", path: "/v1/apps", body: map[string]any{"name": "x", "domains": []string{"x.example.com"}, "session_algorithm": "none"}})
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "session_algorithm") {
		t.Fatalf("create with alg none: %d %s", rec.Code, rec.Body.String())
	}
	if keys := h.appKeys(app.ID); len(keys) != 3 {
		t.Fatalf("refused changes changed the keys: %d", len(keys))
	}
}

// TestCertsCaching: origins may cache the certs for less than the default
// activation delay, and revalidate with the ETag.
func TestCertsCaching(t *testing.T) {
	h := newHarness(t)
	h.createRSAApp("grafana")
	for _, path := range []string{"/cdn-cgi/access/certs", "/.well-known/jwks.json"} {
		rec := h.call(request{method: "GET", path: path, key: ptr("")}, 200, nil)
		if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=15" {
			t.Fatalf("%s Cache-Control %q", path, cc)
		}
		etag := rec.Header().Get("ETag")
		again := h.do(request{method: "GET", path: path, key: ptr(""), header: map[string]string{"If-None-Match": etag}})
		if etag == "" || again.Code != 304 {
			t.Fatalf("%s revalidation: etag %q, status %d", path, etag, again.Code)
		}
	}
	before := h.call(request{method: "GET", path: "/.well-known/jwks.json", key: ptr("")}, 200, nil).Header().Get("ETag")
	h.createRSAApp("vault")
	after := h.call(request{method: "GET", path: "/.well-known/jwks.json", key: ptr("")}, 200, nil)
	var jwks apiv1.JWKS
	json.Unmarshal(after.Body.Bytes(), &jwks)
	if after.Header().Get("ETag") == before || len(jwks.Keys) != 2 {
		t.Fatalf("a new RS256 app is not in the JWKS at once: %d keys", len(jwks.Keys))
	}
}

// TestRS256PrivateKeyNeverLeaves: through creation, a switch, rotations,
// exchanges and every read an operator, a filter or an origin makes, no
// answer, audit row or log line holds an RS256 private key, in any
// encoding, whole or in parts (private exponent, primes), or its sealed
// form; and the HS256 key of an app switched to RS256 never reaches an
// unsigned poll.
func TestRS256PrivateKeyNeverLeaves(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	app := h.createRSAApp("grafana")
	hs := h.createApp("billing", "")
	h.call(request{method: "PATCH", path: "/v1/apps/" + hs.ID, body: map[string]string{"session_algorithm": "RS256", "activate_after": "0s"}}, 200, nil)
	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/keys/rotate"}, 201, nil)
	tok := h.createToken("ci", "")
	var bodies, unsigned strings.Builder
	for _, a := range []apiv1.App{app, hs} {
		h.createPolicy(a.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
		bodies.WriteString(h.exchange(tok, a.AUD).Body.String())
		for _, path := range []string{"/v1/apps/" + a.ID, "/v1/apps/" + a.ID + "/keys", "/v1/apps/" + a.ID + "/filter-config",
			"/v1/apps/" + a.ID + "/filter-config?format=istio"} {
			bodies.WriteString(h.do(request{method: "GET", path: path}).Body.String())
		}
		unsigned.WriteString(h.do(request{method: "GET", path: "/v1/filter-sync?aud=" + a.AUD, key: ptr("")}).Body.String())
	}
	for _, path := range []string{"/v1/apps", "/v1/audit?limit=1000", "/cdn-cgi/access/certs", "/.well-known/jwks.json"} {
		bodies.WriteString(h.do(request{method: "GET", path: path, key: ptr("")}).Body.String())
		bodies.WriteString(h.do(request{method: "GET", path: path}).Body.String())
	}
	rows, err := h.store.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		fmt.Fprintf(&bodies, "%+v\n", r)
	}
	bodies.WriteString(h.logs.String())
	bodies.WriteString(unsigned.String())
	hay := bodies.String()

	var needles, hmacNeedles []string
	opened := 0
	for _, a := range []apiv1.App{app, hs} {
		appKeys, err := h.store.ListAppKeys(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range appKeys {
			kid := domain.KeyID(a.AUD, k.Version)
			if !k.IsRSA() {
				// The switched app's HS256 key: in its filter-config and
				// signed sync answers, never in an unsigned one.
				hmacNeedles = append(hmacNeedles, encodings(h.keys.SessionKey(a.AUD, k.Version).Secret)...)
				continue
			}
			priv, err := h.keys.OpenRSAKey(a.AUD, kid, k)
			if err != nil {
				t.Fatal(err)
			}
			opened++
			der, _ := x509.MarshalPKCS8PrivateKey(priv)
			for _, part := range [][]byte{der, priv.D.Bytes(), priv.Primes[0].Bytes(), priv.Primes[1].Bytes(), k.SealedPrivateKey} {
				needles = append(needles, encodings(part)...)
				needles = append(needles, encodings(part[:24])...)
			}
		}
	}
	if opened != 3 {
		t.Fatalf("opened %d RS256 keys, want 3", opened)
	}
	for _, n := range needles {
		if strings.Contains(hay, n) {
			t.Fatalf("a private or secret key is in an answer, audit row or log line (%.12s…)", n)
		}
	}
	for _, n := range hmacNeedles {
		if strings.Contains(unsigned.String(), n) {
			t.Fatal("an HS256 key is in the answer to an unsigned sync poll")
		}
	}
	if len(hmacNeedles) == 0 || !strings.Contains(unsigned.String(), `"n":"`) {
		t.Fatal("the switched app has no HS256 key, or the unsigned polls got no answer: the scan proves nothing")
	}
	if !strings.Contains(hay, `"n":"`) || !strings.Contains(hay, tok.ClientID) {
		t.Fatal("the scanned text lacks the public keys or the client id: the scan looks at the wrong place")
	}
}
