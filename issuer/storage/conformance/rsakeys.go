package conformance

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Opaque stand-ins for an RS256 key's stored halves: storage keeps bytes,
// it does not interpret them.
var (
	rsaPublicA, rsaSealedA = bytes.Repeat([]byte{0xa1}, 294), bytes.Repeat([]byte{0xa2}, 1250)
	rsaPublicB, rsaSealedB = bytes.Repeat([]byte{0xb1}, 294), bytes.Repeat([]byte{0xb2}, 1250)
)

// testRSAAppKeys: an app created with an RS256 first key stores its halves
// and says so in SessionAlgorithm; a rotation to the other algorithm
// changes SessionAlgorithm with the keys; a version's material never
// changes; and an RS256 key without its halves (or an HS256 key with them)
// is refused and changes nothing.
func testRSAAppKeys(t *testing.T, s storage.Storage) {
	ctx := context.Background()
	app := newApp("rsa")
	app.SessionAlgorithm = session.RS256
	app.FirstKey = &domain.AppKey{Algorithm: session.RS256, PublicKey: rsaPublicA, SealedPrivateKey: rsaSealedA}
	mustNil(t, s.CreateApp(ctx, app), "create RS256 app")
	first := domain.AppKey{AppID: app.ID, Version: 1, CreatedAt: base, ActivatesAt: base,
		Algorithm: session.RS256, PublicKey: rsaPublicA, SealedPrivateKey: rsaSealedA}
	keys, err := s.ListAppKeys(ctx, app.ID)
	mustNil(t, err, "list keys")
	mustEqual(t, keys, []domain.AppKey{first}, "RS256 first key")
	got, err := s.GetApp(ctx, app.ID)
	mustNil(t, err, "get app")
	if got.SessionAlgorithm != session.RS256 || got.FirstKey != nil {
		t.Fatalf("stored app: session algorithm %q, FirstKey %v", got.SessionAlgorithm, got.FirstKey)
	}

	// UpdateApp does not change the algorithm: only the keys do.
	got, err = s.UpdateApp(ctx, app.ID, func(a domain.App) (domain.App, error) {
		a.SessionAlgorithm = session.HS256
		a.Name = "rsa-renamed"
		return a, nil
	})
	mustNil(t, err, "update app")
	if got.SessionAlgorithm != session.RS256 {
		t.Fatalf("UpdateApp changed the algorithm to %q", got.SessionAlgorithm)
	}

	rotate := func(what string, alg string, pub, sealed []byte) ([]domain.AppKey, error) {
		return s.UpdateAppKeys(ctx, app.ID, func(a domain.App, old []domain.AppKey) ([]domain.AppKey, error) {
			out, _ := domain.RotateAppKeys(a, old, at(time.Hour), 30*time.Second,
				domain.AppKey{Algorithm: alg, PublicKey: pub, SealedPrivateKey: sealed})
			return out, nil
		})
	}
	for name, c := range map[string]struct {
		alg         string
		pub, sealed []byte
	}{
		"RS256 without halves":    {session.RS256, nil, nil},
		"RS256 without private":   {session.RS256, rsaPublicB, nil},
		"HS256 with halves":       {session.HS256, rsaPublicB, rsaSealedB},
		"unknown algorithm ES256": {"ES256", rsaPublicB, rsaSealedB},
	} {
		if _, err := rotate(name, c.alg, c.pub, c.sealed); err == nil {
			t.Fatalf("%s: accepted", name)
		}
		keys, err = s.ListAppKeys(ctx, app.ID)
		mustNil(t, err, "list after "+name)
		mustEqual(t, keys, []domain.AppKey{first}, "keys after "+name)
	}
	_, err = s.UpdateAppKeys(ctx, app.ID, func(_ domain.App, old []domain.AppKey) ([]domain.AppKey, error) {
		old[0].PublicKey = rsaPublicB
		return old, nil
	})
	if err == nil {
		t.Fatal("a version's public key changed")
	}

	keys, err = rotate("to HS256", session.HS256, nil, nil)
	mustNil(t, err, "rotate to HS256")
	if len(keys) != 2 || keys[1].Algorithm != session.HS256 || keys[1].PublicKey != nil || keys[1].SealedPrivateKey != nil ||
		!bytes.Equal(keys[0].SealedPrivateKey, rsaSealedA) {
		t.Fatalf("keys after rotating to HS256: %+v", keys)
	}
	got, err = s.GetApp(ctx, app.ID)
	mustNil(t, err, "get app")
	if got.SessionAlgorithm != session.HS256 || got.KeyVersion != 2 {
		t.Fatalf("after rotating to HS256: algorithm %q, key version %d", got.SessionAlgorithm, got.KeyVersion)
	}
	keys, err = rotate("back to RS256", session.RS256, rsaPublicB, rsaSealedB)
	mustNil(t, err, "rotate to RS256")
	got, err = s.GetApp(ctx, app.ID)
	mustNil(t, err, "get app")
	if got.SessionAlgorithm != session.RS256 || len(keys) != 3 || !bytes.Equal(keys[2].PublicKey, rsaPublicB) {
		t.Fatalf("after rotating back to RS256: algorithm %q, keys %d", got.SessionAlgorithm, len(keys))
	}
	apps, err := s.ListApps(ctx)
	mustNil(t, err, "list apps")
	if len(apps) != 1 || apps[0].SessionAlgorithm != session.RS256 {
		t.Fatalf("ListApps: %+v", apps)
	}
}
