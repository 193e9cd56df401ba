package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// syncSig builds the x-svcauth-sync header exactly as the contract says,
// independently of the server's code.
func syncSig(key session.Key, aud string, ts int64) string {
	t := strconv.FormatInt(ts, 10)
	m := hmac.New(sha256.New, key.Secret)
	m.Write([]byte("svcauth-sync/v1\n" + aud + "\n" + t))
	return key.ID + ":" + t + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// poll sends GET /v1/filter-sync for aud signed with key now, with
// If-None-Match etag when not empty.
func (h *harness) poll(aud string, key session.Key, etag string) *httptest.ResponseRecorder {
	h.t.Helper()
	hdr := map[string]string{"x-svcauth-sync": syncSig(key, aud, h.Now().Unix())}
	if etag != "" {
		hdr["If-None-Match"] = `"` + etag + `"`
	}
	return h.do(request{method: "GET", path: "/v1/filter-sync?aud=" + aud, key: ptr(""), header: hdr})
}

// syncState polls and decodes a 200 answer strictly.
func (h *harness) syncState(aud string, key session.Key) apiv1.FilterSync {
	h.t.Helper()
	rec := h.poll(aud, key, "")
	if rec.Code != 200 {
		h.t.Fatalf("filter sync: %d %s", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		h.t.Fatalf("content type %q", ct)
	}
	var st apiv1.FilterSync
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		h.t.Fatalf("sync body %s: %v", rec.Body.String(), err)
	}
	if got := rec.Header().Get("ETag"); got != `"`+st.ETag+`"` || st.ETag == "" {
		h.t.Fatalf("ETag header %q, body etag %q", got, st.ETag)
	}
	return st
}

func syncApp(t *testing.T) (*harness, apiv1.App, session.Key) {
	h := newHarness(t)
	app := h.createApp("billing", "1h")
	h.createPolicy(app.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	return h, app, h.keys.SessionKey(app.AUD, 1)
}

func TestFilterSyncAnswer(t *testing.T) {
	h, app, key := syncApp(t)
	st := h.syncState(app.AUD, key)
	want := apiv1.FilterSync{
		ETag: st.ETag, GeneratedAt: h.Now().Unix(), SessionsNotBefore: 0,
		RevokedTokens: []apiv1.SyncRevokedToken{}, DisabledTokens: []string{}, SecretGraceEnds: []apiv1.SyncSecretGraceEnd{},
		Keys: []apiv1.SyncKey{{KID: key.ID, Key: base64.RawURLEncoding.EncodeToString(key.Secret), ActivatesAt: h.Now().Unix()}},
	}
	if !sameJSON(t, st, want) {
		t.Fatalf("sync state:\n got %+v\nwant %+v", st, want)
	}
	raw := h.poll(app.AUD, key, "").Body.String()
	for _, field := range []string{`"revoked_tokens":[]`, `"disabled_tokens":[]`, `"secret_grace_ends":[]`} {
		if !strings.Contains(raw, field) {
			t.Fatalf("body %s lacks %s (want [] not null)", raw, field)
		}
	}

	// Unchanged: 304 without a body, for the exact, weak or listed tag.
	h.Advance(5 * time.Second)
	for _, inm := range []string{`"` + st.ETag + `"`, `W/"` + st.ETag + `"`, `"other", "` + st.ETag + `"`, "*"} {
		rec := h.do(request{method: "GET", path: "/v1/filter-sync?aud=" + app.AUD, key: ptr(""),
			header: map[string]string{"x-svcauth-sync": syncSig(key, app.AUD, h.Now().Unix()), "If-None-Match": inm}})
		if rec.Code != 304 || rec.Body.Len() != 0 || rec.Header().Get("ETag") != `"`+st.ETag+`"` {
			t.Fatalf("If-None-Match %s: %d %q etag %q", inm, rec.Code, rec.Body.String(), rec.Header().Get("ETag"))
		}
	}
	if rec := h.poll(app.AUD, key, "stale-etag"); rec.Code != 200 {
		t.Fatalf("another etag: %d", rec.Code)
	}
	// A rebuild with the same content keeps the etag and generated_at.
	h.srv.InvalidateCaches()
	if again := h.syncState(app.AUD, key); again.ETag != st.ETag || again.GeneratedAt != st.GeneratedAt {
		t.Fatalf("rebuilt unchanged state: %+v, was %+v", again, st)
	}
	if got := metric(t, h, "svcauth_filter_sync_requests_total", "result", "not_modified"); got != 4 {
		t.Fatalf("not_modified polls %v, want 4", got)
	}
}

func TestFilterSyncAuthentication(t *testing.T) {
	h, app, key := syncApp(t)
	other := h.createApp("other", "")
	otherKey := h.keys.SessionKey(other.AUD, 1)
	now := h.Now().Unix()
	good := syncSig(key, app.AUD, now)
	kid, rest, _ := strings.Cut(good, ":")
	ts, mac, _ := strings.Cut(rest, ":")
	flipped := []byte(mac)
	flipped[3] ^= 1
	if flipped[3] == '-' || flipped[3] == '_' {
		flipped[3] = 'A'
	}

	cases := []struct {
		name, aud, header string
		status            int
		reason            string
	}{
		{"good", app.AUD, good, 200, ""},
		{"no header", app.AUD, "", 401, "bad_sync_signature"},
		{"bad mac", app.AUD, kid + ":" + ts + ":" + string(flipped), 401, "bad_sync_signature"},
		{"truncated mac", app.AUD, kid + ":" + ts + ":" + mac[:20], 401, "bad_sync_signature"},
		{"mac for another aud", app.AUD, kid + ":" + ts + ":" + strings.Split(syncSig(key, other.AUD, now), ":")[2], 401, "bad_sync_signature"},
		{"ts not the signed one", app.AUD, kid + ":" + strconv.FormatInt(now+1, 10) + ":" + mac, 401, "bad_sync_signature"},
		{"ts with a leading zero", app.AUD, kid + ":0" + ts + ":" + mac, 401, "bad_sync_signature"},
		{"ts not a number", app.AUD, kid + ":soon:" + mac, 401, "bad_sync_signature"},
		{"two fields", app.AUD, kid + ":" + ts, 401, "bad_sync_signature"},
		{"stale ts", app.AUD, syncSig(key, app.AUD, now-61), 401, "stale_sync_signature"},
		{"future ts", app.AUD, syncSig(key, app.AUD, now+61), 401, "stale_sync_signature"},
		{"ts at the limit", app.AUD, syncSig(key, app.AUD, now-60), 200, ""},
		{"unknown kid", app.AUD, syncSig(session.Key{ID: app.AUD[:12] + ".v9", Secret: key.Secret}, app.AUD, now), 401, "unknown_kid"},
		{"another app's key", app.AUD, syncSig(otherKey, app.AUD, now), 401, "unknown_kid"},
		{"another app's kid with this app's key", app.AUD, syncSig(session.Key{ID: otherKey.ID, Secret: key.Secret}, app.AUD, now), 401, "unknown_kid"},
		{"admin key instead", app.AUD, "", 401, "bad_sync_signature"},
		{"unknown aud", strings.Repeat("ab", 32), syncSig(key, strings.Repeat("ab", 32), now), 404, ""},
		{"malformed aud", "xyz", good, 400, ""},
	}
	for _, c := range cases {
		hdr := map[string]string{}
		if c.header != "" {
			hdr["x-svcauth-sync"] = c.header
		}
		r := request{method: "GET", path: "/v1/filter-sync?aud=" + c.aud, key: ptr(""), header: hdr}
		if c.name == "admin key instead" {
			r.key = nil
		}
		rec := h.do(r)
		if rec.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body.String(), c.status)
			continue
		}
		if c.status == 401 {
			e := decodeError(t, rec)
			if e.Error != "unauthorized" || e.Reason != c.reason {
				t.Errorf("%s: %+v, want reason %s", c.name, e, c.reason)
			}
			if strings.Contains(rec.Body.String(), mac) {
				t.Errorf("%s: the answer echoes the signature", c.name)
			}
		}
	}
	if strings.Contains(h.logs.String(), mac) {
		t.Fatal("a sync signature reached the logs")
	}

	// A retired key stops authenticating; pending and previous keys do.
	var k2 apiv1.AppKey
	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/keys/rotate", body: `{"activate_after":"10s"}`}, 201, &k2)
	key2 := h.keys.SessionKey(app.AUD, 2)
	if k2.KID != key2.ID || k2.State != "pending" {
		t.Fatalf("rotated key %+v", k2)
	}
	for _, k := range []session.Key{key, key2} {
		if rec := h.poll(app.AUD, k, ""); rec.Code != 200 {
			t.Fatalf("poll signed with %s: %d %s", k.ID, rec.Code, rec.Body.String())
		}
	}
	h.Advance(10*time.Second + time.Hour + 5*time.Minute)
	if rec := h.poll(app.AUD, key, ""); rec.Code != 401 || decodeError(t, rec).Reason != "unknown_kid" {
		t.Fatalf("retired key: %d %s", rec.Code, rec.Body.String())
	}
	st := h.syncState(app.AUD, key2)
	if len(st.Keys) != 1 || st.Keys[0].KID != key2.ID {
		t.Fatalf("keys after retirement %+v", st.Keys)
	}
}

// TestFilterSyncFollowsEveryChange checks that each kind of change alters
// the etag and the body at once, and that an irrelevant one does not.
func TestFilterSyncFollowsEveryChange(t *testing.T) {
	h, app, key := syncApp(t)
	tok := h.createToken("ci", "")
	victim := h.createToken("victim", "")
	rotated := h.createToken("rotated", "")
	st := h.syncState(app.AUD, key)

	changed := func(what string, check func(st apiv1.FilterSync) bool) apiv1.FilterSync {
		t.Helper()
		if rec := h.poll(app.AUD, key, st.ETag); rec.Code != 200 {
			t.Fatalf("%s: poll with the old etag answered %d, want 200", what, rec.Code)
		}
		next := h.syncState(app.AUD, key)
		if next.ETag == st.ETag || sameJSON(t, next, st) {
			t.Fatalf("%s: etag %q → %q, body %+v", what, st.ETag, next.ETag, next)
		}
		if !check(next) {
			t.Fatalf("%s: sync state %+v", what, next)
		}
		return next
	}
	unchanged := func(what string) {
		t.Helper()
		if rec := h.poll(app.AUD, key, st.ETag); rec.Code != 304 {
			t.Fatalf("%s: poll answered %d, want 304", what, rec.Code)
		}
	}
	h.Advance(1500 * time.Millisecond)

	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"name":"ci-renamed"}`}, 200, nil)
	h.call(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/refresh"}, 200, nil)
	h.createToken("newcomer", "")
	unchanged("rename, refresh, create")

	// A rotation with grace: filters must learn when the old secret stops,
	// to stop serving sessions they cached for the header pair before then.
	graceEnd := h.Now().Add(time.Hour)
	h.call(request{method: "POST", path: "/v1/service-tokens/" + rotated.ID + "/rotate", body: `{"grace":"1h"}`}, 200, nil)
	st = changed("rotate with grace", func(s apiv1.FilterSync) bool {
		return len(s.SecretGraceEnds) == 1 && s.SecretGraceEnds[0] == apiv1.SyncSecretGraceEnd{
			TokenID: rotated.ID, PreviousSecretExpiresAt: domain.CeilUnix(graceEnd),
		} && len(s.RevokedTokens) == 0
	})

	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"enabled":false}`}, 200, nil)
	st = changed("disable", func(s apiv1.FilterSync) bool { return len(s.DisabledTokens) == 1 && s.DisabledTokens[0] == tok.ID })

	h.call(request{method: "PATCH", path: "/v1/service-tokens/" + tok.ID, body: `{"enabled":true}`}, 200, nil)
	st = changed("enable", func(s apiv1.FilterSync) bool { return len(s.DisabledTokens) == 0 })

	now := h.Now()
	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + victim.ID}, 204, nil)
	st = changed("delete", func(s apiv1.FilterSync) bool {
		return len(s.RevokedTokens) == 1 && s.RevokedTokens[0] == apiv1.SyncRevokedToken{TokenID: victim.ID, RevokedAt: now.Unix()}
	})

	var secret apiv1.Token
	h.call(request{method: "POST", path: "/v1/service-tokens/" + tok.ID + "/rotate"}, 200, &secret)
	st = changed("rotate without grace", func(s apiv1.FilterSync) bool {
		for _, r := range s.RevokedTokens {
			if r.TokenID == tok.ID && r.RevokedAt == now.Unix() {
				return len(s.RevokedTokens) == 2
			}
		}
		return false
	})
	// A session issued after the rotation, in the same second, is dated
	// after the revocation, so the filter keeps it.
	rec := h.exchange(secret, app.AUD)
	if rec.Code != 200 {
		t.Fatalf("exchange with the new secret: %d %s", rec.Code, rec.Body.String())
	}
	if c := claimsOf(t, h, app, rec); c.IssuedAt <= now.Unix() || c.IssuedAt > now.Unix()+1 || c.NotBefore != c.IssuedAt {
		t.Fatalf("iat %d nbf %d after a revocation at %d (%v)", c.IssuedAt, c.NotBefore, now.Unix(), now)
	}

	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/revoke-sessions"}, 200, nil)
	st = changed("revoke sessions", func(s apiv1.FilterSync) bool { return s.SessionsNotBefore == domain.CeilUnix(now) })
	rec = h.exchange(secret, app.AUD)
	if c := claimsOf(t, h, app, rec); c.IssuedAt < st.SessionsNotBefore {
		t.Fatalf("session issued after revoke-sessions has iat %d < sessions_not_before %d", c.IssuedAt, st.SessionsNotBefore)
	}

	h.call(request{method: "POST", path: "/v1/apps/" + app.ID + "/keys/rotate"}, 201, nil)
	st = changed("key rotation", func(s apiv1.FilterSync) bool {
		return len(s.Keys) == 2 && s.Keys[1].KID == app.AUD[:12]+".v2" && s.Keys[1].ActivatesAt == now.Unix()+30
	})

	h.call(request{method: "PATCH", path: "/v1/apps/" + app.ID, body: `{"name":"billing-2"}`}, 200, nil)
	unchanged("app rename")

	// Revocations older than the session duration + 5 min drop out.
	h.Advance(time.Hour + 5*time.Minute + time.Second)
	st = changed("revocations expire", func(s apiv1.FilterSync) bool { return len(s.RevokedTokens) == 0 })

	// A change made behind the server's back (another replica) shows
	// within the generation TTL.
	if _, err := h.store.UpdateToken(context.Background(), tok.ID, func(t domain.Token) (domain.Token, error) {
		t.Enabled = false
		return t, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.Advance(time.Second)
	changed("another replica disables", func(s apiv1.FilterSync) bool { return len(s.DisabledTokens) == 1 })
}

func claimsOf(t *testing.T, h *harness, app apiv1.App, rec *httptest.ResponseRecorder) session.Claims {
	t.Helper()
	var resp apiv1.ExchangeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.JWT == "" {
		t.Fatalf("exchange answer %d %s", rec.Code, rec.Body.String())
	}
	var keys []session.Key
	for v := 1; v <= 5; v++ {
		keys = append(keys, h.keys.SessionKey(app.AUD, v))
	}
	v, err := session.NewVerifier(app.AUD, keys, 30)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(resp.JWT, h.Now().Unix())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return c
}

func TestPruneRevocations(t *testing.T) {
	h, app, key := syncApp(t)
	gone := h.createToken("gone", "")
	h.call(request{method: "DELETE", path: "/v1/service-tokens/" + gone.ID}, 204, nil)
	if st := h.syncState(app.AUD, key); len(st.RevokedTokens) != 1 {
		t.Fatalf("revocations %+v", st.RevokedTokens)
	}
	if n, err := h.srv.PruneRevocations(context.Background()); err != nil || n != 0 {
		t.Fatalf("pruned %d %v right after the delete", n, err)
	}
	h.Advance(domain.MaxRevocationRetention + time.Second)
	if n, err := h.srv.PruneRevocations(context.Background()); err != nil || n != 1 {
		t.Fatalf("pruned %d %v after the longest session", n, err)
	}
	if st := h.syncState(app.AUD, key); len(st.RevokedTokens) != 0 {
		t.Fatalf("revocations after pruning %+v", st.RevokedTokens)
	}
}
