package api

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage"
)

// The exchange's fast path: token records (by client id) and applications
// with their policies and keys (by aud) are served from memory, so a warm
// exchange reads nothing from the database, and a miss costs one indexed
// read (a token) or three (an application, once per invalidation).
//
// Invalidation: every change made through this server goes through
// invalidatingStore, which bumps an epoch when it returns; entries remember
// the epoch they were read under (taken before the read, so a read racing
// with a change is never kept) and are ignored once it moved. Changes made
// by another issuer replica on the same database are not seen that way:
// entries also expire after Config.CacheTTL, which bounds how long such a
// change takes to reach this replica's exchanges.

// DefaultCacheTTL is Config.CacheTTL's default.
const DefaultCacheTTL = 5 * time.Second

// DefaultCacheTokens bounds the token cache (entries).
const DefaultCacheTokens = 100_000

// maxUnknownClients bounds the client ids remembered as having no token: a
// client that keeps sending a deleted token's id then costs one database
// read per cache TTL, not one per request. Kept apart from the tokens, so
// that a flood of made-up ids cannot push real tokens out.
const maxUnknownClients = 4096

// epochs count changes to what the caches hold.
type epochs struct {
	tokens atomic.Uint64 // service tokens
	apps   atomic.Uint64 // apps, policies, keys
}

// invalidatingStore is the Storage the handlers use: it passes every call
// through, and after each change to tokens, apps, policies or keys (whether
// or not it succeeded) moves the matching epoch.
type invalidatingStore struct {
	storage.Storage
	epochs *epochs
}

func (s *invalidatingStore) tokensChanged() { s.epochs.tokens.Add(1) }
func (s *invalidatingStore) appsChanged()   { s.epochs.apps.Add(1) }

func (s *invalidatingStore) CreateToken(ctx context.Context, t domain.Token) error {
	defer s.tokensChanged()
	return s.Storage.CreateToken(ctx, t)
}

func (s *invalidatingStore) UpdateToken(ctx context.Context, id string, updater func(domain.Token) (domain.Token, error)) (domain.Token, error) {
	defer s.tokensChanged()
	return s.Storage.UpdateToken(ctx, id, updater)
}

func (s *invalidatingStore) DeleteToken(ctx context.Context, id string) error {
	defer s.tokensChanged()
	return s.Storage.DeleteToken(ctx, id)
}

func (s *invalidatingStore) CreateApp(ctx context.Context, a domain.App) error {
	defer s.appsChanged()
	return s.Storage.CreateApp(ctx, a)
}

func (s *invalidatingStore) UpdateApp(ctx context.Context, id string, updater func(domain.App) (domain.App, error)) (domain.App, error) {
	defer s.appsChanged()
	return s.Storage.UpdateApp(ctx, id, updater)
}

func (s *invalidatingStore) DeleteApp(ctx context.Context, id string) error {
	defer s.appsChanged()
	return s.Storage.DeleteApp(ctx, id)
}

func (s *invalidatingStore) CreatePolicy(ctx context.Context, p domain.Policy) (domain.Policy, error) {
	defer s.appsChanged()
	return s.Storage.CreatePolicy(ctx, p)
}

func (s *invalidatingStore) UpdatePolicy(ctx context.Context, appID, id string, updater func(domain.Policy) (domain.Policy, error)) (domain.Policy, error) {
	defer s.appsChanged()
	return s.Storage.UpdatePolicy(ctx, appID, id, updater)
}

func (s *invalidatingStore) DeletePolicy(ctx context.Context, appID, id string) error {
	defer s.appsChanged()
	return s.Storage.DeletePolicy(ctx, appID, id)
}

func (s *invalidatingStore) UpdateAppKeys(ctx context.Context, appID string, updater func(domain.App, []domain.AppKey) ([]domain.AppKey, error)) ([]domain.AppKey, error) {
	defer s.appsChanged()
	return s.Storage.UpdateAppKeys(ctx, appID, updater)
}

// exchangeApp is what an exchange needs of an application. Read only.
type exchangeApp struct {
	app      domain.App
	policies []domain.Policy
	// signers are the app's keys that can still sign, newest version
	// first, with their Signers (derived HMAC keys, opened RSA keys).
	signers []signer
}

type signer struct {
	activatesAt time.Time
	key         domain.AppKey // what the Signer was made from (reuseSigner)
	*session.Signer
}

// signer returns the Signer sessions are signed with at now: that of the
// newest version whose activation has come (domain.SigningKey, without the
// allocations; the signing key is never retired).
func (a *exchangeApp) signer(now time.Time) (*session.Signer, bool) {
	for i := range a.signers {
		if !a.signers[i].activatesAt.After(now) {
			return a.signers[i].Signer, true
		}
	}
	return nil, false
}

// stamp is when a cache entry was read: under which epoch, and until when
// it may be served.
type stamp struct {
	epoch   uint64
	expires time.Time
}

// fresh reports whether the entry may still be served at now under epoch.
func (s stamp) fresh(epoch uint64, now time.Time) bool {
	return s.epoch == epoch && now.Before(s.expires)
}

type tokenEntry struct {
	tok domain.Token
	stamp
}

type appEntry struct {
	app *exchangeApp
	stamp
}

// exchangeCache reads through src and keeps what it read.
type exchangeCache struct {
	src       ExchangeStore
	keys      *keys.Keyring
	epochs    *epochs
	ttl       time.Duration
	maxTokens int

	tokenHit, tokenMiss, appHit, appMiss prometheus.Counter

	mu      sync.RWMutex
	tokens  map[string]*tokenEntry // by client id
	unknown map[string]stamp       // client ids no token had, by client id
	apps    map[string]*appEntry   // by aud
}

func newExchangeCache(src ExchangeStore, kr *keys.Keyring, ep *epochs, ttl time.Duration, lookups *prometheus.CounterVec) *exchangeCache {
	return &exchangeCache{
		src: src, keys: kr, epochs: ep, ttl: ttl, maxTokens: DefaultCacheTokens,
		tokenHit:  lookups.WithLabelValues("token", "hit"),
		tokenMiss: lookups.WithLabelValues("token", "miss"),
		appHit:    lookups.WithLabelValues("app", "hit"),
		appMiss:   lookups.WithLabelValues("app", "miss"),
		tokens:    map[string]*tokenEntry{},
		unknown:   map[string]stamp{},
		apps:      map[string]*appEntry{},
	}
}

// token returns the token with clientID. The result is shared: read only.
func (c *exchangeCache) token(ctx context.Context, clientID string, now time.Time) (*domain.Token, error) {
	epoch := c.epochs.tokens.Load()
	c.mu.RLock()
	e := c.tokens[clientID]
	var (
		u         stamp
		isUnknown bool
	)
	if e == nil { // a client id is in at most one of the maps
		u, isUnknown = c.unknown[clientID]
	}
	c.mu.RUnlock()
	if e != nil && e.fresh(epoch, now) {
		c.tokenHit.Inc()
		return &e.tok, nil
	}
	if isUnknown && u.fresh(epoch, now) {
		c.tokenHit.Inc()
		return nil, storage.ErrNotFound
	}
	c.tokenMiss.Inc()
	tok, err := c.src.GetTokenByClientID(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		c.mu.Lock()
		makeRoom(c.unknown, maxUnknownClients)
		c.unknown[strings.Clone(clientID)] = stamp{epoch, now.Add(c.ttl)}
		delete(c.tokens, clientID)
		c.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	e = &tokenEntry{tok, stamp{epoch, now.Add(c.ttl)}}
	c.mu.Lock()
	makeRoom(c.tokens, c.maxTokens)
	c.tokens[strings.Clone(clientID)] = e // not a substring that keeps the request's body alive
	delete(c.unknown, clientID)
	c.mu.Unlock()
	return &e.tok, nil
}

// app returns the application with aud, its policies and keys. The result
// is shared: read only.
func (c *exchangeCache) app(ctx context.Context, aud string, now time.Time) (*exchangeApp, error) {
	epoch := c.epochs.apps.Load()
	c.mu.RLock()
	e := c.apps[aud]
	c.mu.RUnlock()
	if e != nil && e.fresh(epoch, now) {
		c.appHit.Inc()
		return e.app, nil
	}
	c.appMiss.Inc()
	app, err := c.src.GetAppByAUD(ctx, aud)
	if err != nil {
		return nil, err
	}
	policies, err := c.src.ListPolicies(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	appKeys, err := c.src.ListAppKeys(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	ea := &exchangeApp{app: app, policies: policies}
	for _, k := range domain.PublishedKeys(app, appKeys, now) {
		sg := reuseSigner(e, app.AUD, k.AppKey)
		if sg == nil {
			if sg, err = c.keys.Signer(app.AUD, k.AppKey); err != nil {
				return nil, err
			}
		}
		ea.signers = append(ea.signers, signer{activatesAt: k.ActivatesAt, key: k.AppKey, Signer: sg})
	}
	// Storage lists keys by version; newest first here.
	slices.Reverse(ea.signers)
	c.mu.Lock()
	makeRoom(c.apps, c.maxTokens)
	c.apps[aud] = &appEntry{ea, stamp{epoch, now.Add(c.ttl)}}
	c.mu.Unlock()
	return ea, nil
}

// reuseSigner returns the Signer of the stale entry prev for key k of aud,
// when prev has one made from the same version and material (a version's
// material never changes; the comparison is cheap insurance), else nil.
// Entries are rebuilt every TTL and on every change notification, and
// opening an RS256 key again (unseal, parse, validate) costs about 160 µs
// of the exchange that misses.
func reuseSigner(prev *appEntry, aud string, k domain.AppKey) *session.Signer {
	if prev == nil || prev.app.app.AUD != aud {
		return nil
	}
	for _, s := range prev.app.signers {
		if s.key.Version == k.Version && s.key.Algorithm == k.Algorithm && bytes.Equal(s.key.SealedPrivateKey, k.SealedPrivateKey) {
			return s.Signer
		}
	}
	return nil
}

// makeRoom drops one arbitrary entry of m when it holds max or more: the
// caches are bounded, and any entry is as good to lose as another.
func makeRoom[K comparable, V any](m map[K]V, max int) {
	if len(m) < max {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

// ExternalChange tells the server that another issuer replica changed
// table (a notification from the shared database; "" for "anything may
// have changed", after the notifications were interrupted). The caches
// holding it are dropped as after a change through this server: exchanges,
// sync answers and the certs endpoint read storage again, instead of
// waiting for the cache TTL.
func (s *Server) ExternalChange(table string) {
	switch table {
	case "service_tokens":
		s.epochs.tokens.Add(1)
	case "apps", "policies", "app_keys":
		s.epochs.apps.Add(1)
	default:
		s.epochs.tokens.Add(1)
		s.epochs.apps.Add(1)
	}
}
