package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Filter sync: GET /v1/filter-sync?aud=<aud>, polled by every filter on its
// tick (see filter/SYNC-PROTOCOL.md). The answer (revocations, disabled
// tokens, the app's published keys) is built once per change and kept in
// memory with its ETag: a poll costs one HMAC check, and at most one cheap
// read (the sync generation, at most once per SyncGenerationTTL for all
// apps) to notice changes made by other issuer replicas.

// Filter sync constants.
const (
	SyncPath = "/v1/filter-sync"
	// SyncHeader carries "<kid>:<unix seconds>:<base64url HMAC-SHA256>".
	SyncHeader = "x-svcauth-sync"
	// SyncMaxSkew bounds |now - ts| of a sync signature.
	SyncMaxSkew = 60 * time.Second
	// SyncGenerationTTL is how long the sync generation read from storage
	// is trusted; changes made through this server are seen at once.
	SyncGenerationTTL = time.Second
	// syncRebuildAtLeast bounds how long a built answer is served without
	// looking at storage again, whatever the generation says.
	syncRebuildAtLeast = 10 * time.Minute
)

// Sync authentication failures (the reason of a 401).
const (
	ReasonBadSyncSignature   = "bad_sync_signature"
	ReasonStaleSyncSignature = "stale_sync_signature"
	ReasonUnknownKID         = "unknown_kid"
)

// syncEntry is one app's built answer.
type syncEntry struct {
	tokenEpoch, appEpoch uint64
	generation           int64
	validUntil           time.Time
	etag                 string
	body                 []byte
	keys                 map[string][]byte // kid → secret of every published HS256 key
	// publicETag and publicBody are the answer to an unsigned poll, set
	// when the app publishes an RS256 key (also while it switches, beside
	// an HS256 one): the answer without the HS256 secrets, so that it holds
	// nothing secret (RS256 public keys, token ids and times). A filter of
	// an RS256 app holds no secret to sign its poll with.
	publicETag string
	publicBody []byte
}

type syncCache struct {
	mu      sync.Mutex
	entries map[string]*syncEntry // by aud
	gen     int64
	genRead time.Time
}

func newSyncCache() *syncCache { return &syncCache{entries: map[string]*syncEntry{}} }

func (s *Server) filterSync(w http.ResponseWriter, r *http.Request) {
	res, err := s.serveSync(w, r)
	s.fast.syncRequests.WithLabelValues(res).Inc()
	if err != nil {
		if res == syncUnauthorized {
			s.logger(r.Context()).Warn("filter sync refused", "reason", domain.ErrorReason(err), "aud", r.URL.Query().Get("aud"))
		}
		s.fail(w, r, err)
	}
}

func (s *Server) serveSync(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	aud := r.URL.Query().Get("aud")
	if !domain.ValidAUD(aud) {
		return syncError, domain.Errorf(domain.EInvalid, "aud: want the application's 64-hex audience tag")
	}
	now := s.now()
	e, err := s.syncEntry(ctx, aud, now)
	if errors.Is(err, storage.ErrNotFound) {
		return syncNotFound, domain.Errorf(domain.ENotFound, "unknown application")
	}
	if err != nil {
		return syncError, err
	}
	etag, body := e.etag, e.body
	if sig := r.Header.Get(SyncHeader); sig != "" || e.publicBody == nil {
		if err := checkSyncSignature(sig, aud, e.keys, now); err != nil {
			return syncUnauthorized, err
		}
	} else {
		etag, body = e.publicETag, e.publicBody
	}
	h := w.Header()
	h.Set("ETag", `"`+etag+`"`)
	h.Set("Cache-Control", "no-store")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return syncNotModified, nil
	}
	setJSONHeaders(h)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return syncOK, nil
}

func syncRefused(reason, msg string) error {
	return &domain.Error{Code: domain.EUnauthorized, Reason: reason, Message: msg}
}

// checkSyncSignature checks header "<kid>:<ts>:<mac>" against the app's
// published keys. The MAC is checked before the time, so only a holder of
// the key learns that its clock is off.
func checkSyncSignature(header, aud string, keys map[string][]byte, now time.Time) error {
	kid, rest, ok1 := strings.Cut(header, ":")
	ts, mac, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || kid == "" || !canonicalUnix(ts) || mac == "" {
		return syncRefused(ReasonBadSyncSignature, "missing or malformed "+SyncHeader+" header: want <kid>:<unix seconds>:<base64url HMAC-SHA256>")
	}
	key, ok := keys[kid]
	if !ok {
		return syncRefused(ReasonUnknownKID, "the key id is not a published key of this application")
	}
	want := session.SyncMAC(key, aud, ts)
	if subtle.ConstantTimeCompare([]byte(want), []byte(mac)) != 1 {
		return syncRefused(ReasonBadSyncSignature, "signature does not match")
	}
	sec, _ := strconv.ParseInt(ts, 10, 64)
	if d := now.Sub(time.Unix(sec, 0)); d > SyncMaxSkew || d < -SyncMaxSkew {
		return syncRefused(ReasonStaleSyncSignature, "signature time is more than 60s away from the issuer's clock")
	}
	return nil
}

// canonicalUnix reports whether s is a non-negative decimal without
// leading zeros that fits an int64.
func canonicalUnix(s string) bool {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// etagMatches reports whether an If-None-Match header names etag.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' && t[1:len(t)-1] == etag {
			return true
		}
	}
	return false
}

// syncEntry returns the app's answer, from memory when nothing changed.
func (s *Server) syncEntry(ctx context.Context, aud string, now time.Time) (*syncEntry, error) {
	te, ae := s.epochs.tokens.Load(), s.epochs.apps.Load()
	c := s.sync
	c.mu.Lock()
	e := c.entries[aud]
	gen, fresh := c.gen, now.Sub(c.genRead) < SyncGenerationTTL && !now.Before(c.genRead)
	c.mu.Unlock()
	if !fresh {
		g, err := s.store.SyncGeneration(ctx)
		if err != nil {
			return nil, err
		}
		gen = g
		c.mu.Lock()
		c.gen, c.genRead = g, now
		c.mu.Unlock()
	}
	if e != nil && e.tokenEpoch == te && e.appEpoch == ae && e.generation == gen && now.Before(e.validUntil) {
		return e, nil
	}
	ne, err := s.buildSync(ctx, aud, now, te, ae)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			delete(c.entries, aud)
		}
		return nil, err
	}
	c.gen, c.genRead = ne.generation, now
	if e != nil && e.etag == ne.etag {
		// Same content: keep the answer (and its generated_at) as it was.
		ne.body = e.body
	}
	c.entries[aud] = ne
	return ne, nil
}

// syncContent is what the ETag covers: everything in the answer but etag
// and generated_at.
type syncContent struct {
	AUD               string                     `json:"aud"`
	SessionsNotBefore int64                      `json:"sessions_not_before"`
	RevokedTokens     []apiv1.SyncRevokedToken   `json:"revoked_tokens"`
	DisabledTokens    []string                   `json:"disabled_tokens"`
	SecretGraceEnds   []apiv1.SyncSecretGraceEnd `json:"secret_grace_ends"`
	Keys              []apiv1.SyncKey            `json:"keys"`
}

// buildSync reads the app's sync state from storage. The epochs and the
// generation it is tagged with are read before the state, so a change
// racing with the build is never hidden by it.
func (s *Server) buildSync(ctx context.Context, aud string, now time.Time, te, ae uint64) (*syncEntry, error) {
	gen, err := s.store.SyncGeneration(ctx)
	if err != nil {
		return nil, err
	}
	app, err := s.store.GetAppByAUD(ctx, aud)
	if err != nil {
		return nil, err
	}
	appKeys, err := s.store.ListAppKeys(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	retention := domain.RevocationRetention(app)
	revoked, err := s.store.ListRevokedTokens(ctx, now.Add(-retention))
	if err != nil {
		return nil, err
	}
	disabled, err := s.store.ListDisabledTokenIDs(ctx)
	if err != nil {
		return nil, err
	}
	graceEnds, err := s.store.ListSecretGraceEnds(ctx, now.Add(-retention))
	if err != nil {
		return nil, err
	}

	validUntil := now.Add(syncRebuildAtLeast)
	content := syncContent{
		AUD:             app.AUD,
		RevokedTokens:   make([]apiv1.SyncRevokedToken, 0, len(revoked)),
		DisabledTokens:  disabled,
		SecretGraceEnds: make([]apiv1.SyncSecretGraceEnd, 0, len(graceEnds)),
		Keys:            []apiv1.SyncKey{},
	}
	if app.SessionsNotBefore != nil {
		content.SessionsNotBefore = domain.CeilUnix(*app.SessionsNotBefore)
	}
	for _, rv := range revoked {
		content.RevokedTokens = append(content.RevokedTokens, apiv1.SyncRevokedToken{TokenID: rv.TokenID, RevokedAt: rv.RevokedAt.Unix()})
		if drop := rv.RevokedAt.Add(retention); drop.Before(validUntil) {
			validUntil = drop
		}
	}
	for _, g := range graceEnds {
		// Rounded up: a session cached in the same second as the end is
		// treated as cached before it, and exchanged again.
		content.SecretGraceEnds = append(content.SecretGraceEnds, apiv1.SyncSecretGraceEnd{
			TokenID: g.TokenID, PreviousSecretExpiresAt: domain.CeilUnix(g.EndsAt),
		})
		if drop := g.EndsAt.Add(retention); drop.Before(validUntil) {
			validUntil = drop
		}
	}
	e := &syncEntry{tokenEpoch: te, appEpoch: ae, generation: gen, keys: map[string][]byte{}}
	var publicKeys []apiv1.SyncKey
	for _, k := range domain.PublishedKeys(app, appKeys, now) {
		key, vk, err := s.publishedKey(app.AUD, k.AppKey)
		if err != nil {
			return nil, err
		}
		sk := apiv1.SyncKey{KID: key.KID, Key: key.Key, Alg: key.Alg, N: key.N, E: key.E, ActivatesAt: k.ActivatesAt.Unix()}
		content.Keys = append(content.Keys, sk)
		if vk.Public != nil {
			publicKeys = append(publicKeys, sk)
		} else {
			e.keys[key.KID] = vk.Secret
		}
	}
	if next := domain.NextKeyRetirement(app, appKeys, now); !next.IsZero() && next.Before(validUntil) {
		validUntil = next
	}
	e.validUntil = validUntil

	if e.etag, e.body, err = syncAnswer(content, now); err != nil {
		return nil, err
	}
	switch {
	case len(publicKeys) > 0 && len(e.keys) == 0:
		e.publicETag, e.publicBody = e.etag, e.body // nothing secret to leave out
	case len(publicKeys) > 0:
		// Unsigned polls (filters that hold only RS256 keys) get the
		// answer without the HS256 secrets: those reach a filter only in
		// its configuration or an answer to a poll signed with one.
		content.Keys = publicKeys
		if e.publicETag, e.publicBody, err = syncAnswer(content, now); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// syncAnswer returns the ETag and body of the answer with content.
func syncAnswer(content syncContent, now time.Time) (string, []byte, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(raw)
	etag := base64.RawURLEncoding.EncodeToString(sum[:16])
	body, err := json.Marshal(apiv1.FilterSync{
		ETag:              etag,
		GeneratedAt:       now.Unix(),
		SessionsNotBefore: content.SessionsNotBefore,
		RevokedTokens:     content.RevokedTokens,
		DisabledTokens:    content.DisabledTokens,
		SecretGraceEnds:   content.SecretGraceEnds,
		Keys:              content.Keys,
	})
	if err != nil {
		return "", nil, err
	}
	return etag, append(body, '\n'), nil
}
