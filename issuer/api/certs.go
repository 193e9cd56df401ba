package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// The certs endpoint: the public keys of every RS256 application, for
// origins that verify Cf-Access-Jwt-Assertion themselves, in the shape of
// Cloudflare Access's https://<team>.cloudflareaccess.com/cdn-cgi/access/certs
// (a JWKS in "keys", and the same keys as self-signed certificates in
// "public_cert" and "public_certs"), and as a plain JWKS at
// /.well-known/jwks.json. No admin key: it holds nothing secret.

// Certs endpoint paths and caching.
const (
	CertsPath = "/cdn-cgi/access/certs"
	JWKSPath  = "/.well-known/jwks.json"
	// CertsMaxAge is how long origins may cache the answer. It is half the
	// default --activate-after (30s), so that an origin which cached the
	// keys just before a rotation fetches them again before the new key
	// signs.
	CertsMaxAge = domain.DefaultKeyActivateAfter / 2
	// certsRebuildAfter bounds how long a built answer is served before
	// storage is read again, for changes made through other replicas and
	// keys that retire with time.
	certsRebuildAfter = 5 * time.Second
)

var certsCacheControl = "public, max-age=" + strconv.Itoa(int(CertsMaxAge/time.Second))

type certsAnswer struct {
	epoch       uint64
	built       time.Time
	certs, jwks []byte
	certsTag    string
	jwksTag     string
}

type certsCache struct {
	mu     sync.Mutex
	answer *certsAnswer
	pems   sync.Map // aud/kid → PEM certificate: made once per key
}

func (s *Server) certsHandler(plainJWKS bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := s.certsAnswer(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		body, etag := a.certs, a.certsTag
		if plainJWKS {
			body, etag = a.jwks, a.jwksTag
		}
		h := w.Header()
		setJSONHeaders(h)
		h.Set("Cache-Control", certsCacheControl) // replaces the API's no-store
		h.Set("ETag", `"`+etag+`"`)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
}

// certsAnswer returns the built answer, rebuilding it after a change made
// through this server or certsRebuildAfter.
func (s *Server) certsAnswer(ctx context.Context) (*certsAnswer, error) {
	epoch, now := s.epochs.apps.Load(), s.now()
	s.certs.mu.Lock()
	defer s.certs.mu.Unlock()
	if a := s.certs.answer; a != nil && a.epoch == epoch && now.Sub(a.built) < certsRebuildAfter && !now.Before(a.built) {
		return a, nil
	}
	a, err := s.buildCerts(ctx, epoch, now)
	if err != nil {
		return nil, err
	}
	s.certs.answer = a
	return a, nil
}

// buildCerts lists the published RS256 keys of every app: pending ones
// (origins must know a key before it signs), the signing one and previous
// ones (their sessions are still valid). public_cert is the key that
// started signing last.
func (s *Server) buildCerts(ctx context.Context, epoch uint64, now time.Time) (*certsAnswer, error) {
	apps, err := s.store.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	out := apiv1.Certs{Keys: []apiv1.JWK{}, PublicCerts: []apiv1.PublicCert{}}
	var newest time.Time
	for _, app := range apps {
		appKeys, err := s.store.ListAppKeys(ctx, app.ID)
		if err != nil {
			return nil, err
		}
		for _, k := range domain.PublishedKeys(app, appKeys, now) {
			if !k.IsRSA() {
				continue
			}
			vk, err := s.keys.VerifyKey(app.AUD, k.AppKey)
			if err != nil {
				return nil, err
			}
			n, e := session.RSAPublicJWK(vk.Public)
			out.Keys = append(out.Keys, apiv1.JWK{KID: vk.ID, Kty: "RSA", Alg: session.RS256, Use: "sig", E: e, N: n})
			cert, err := s.keyCertificate(app, k)
			if err != nil {
				return nil, err
			}
			pc := apiv1.PublicCert{KID: vk.ID, Cert: cert}
			out.PublicCerts = append(out.PublicCerts, pc)
			if k.State == domain.KeySigning && k.ActivatesAt.After(newest) {
				newest, out.PublicCert = k.ActivatesAt, &pc
			}
		}
	}
	// Stable order, so that the ETag changes only with the keys.
	sort.Slice(out.Keys, func(i, j int) bool { return out.Keys[i].KID < out.Keys[j].KID })
	sort.Slice(out.PublicCerts, func(i, j int) bool { return out.PublicCerts[i].KID < out.PublicCerts[j].KID })
	if out.PublicCert == nil && len(out.PublicCerts) > 0 {
		out.PublicCert = &out.PublicCerts[0]
	}
	a := &certsAnswer{epoch: epoch, built: now}
	if a.certs, a.certsTag, err = jsonWithTag(out); err != nil {
		return nil, err
	}
	if a.jwks, a.jwksTag, err = jsonWithTag(apiv1.JWKS{Keys: out.Keys}); err != nil {
		return nil, err
	}
	return a, nil
}

func jsonWithTag(v any) ([]byte, string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return append(b, '\n'), base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// keyCertificate returns RS256 key k of app as a self-signed PEM
// certificate (subject CN = kid), made once per key: origins that take
// Cloudflare's public_cert read the key from it, and trust comes from
// fetching the endpoint, not from the certificate's issuer.
func (s *Server) keyCertificate(app domain.App, k domain.KeyStatus) (string, error) {
	if c, ok := s.certs.pems.Load(app.AUD + "/" + k.KID); ok {
		return c.(string), nil
	}
	priv, err := s.keys.OpenRSAKey(app.AUD, k.KID, k.AppKey)
	if err != nil {
		return "", err
	}
	serial := sha256.Sum256([]byte(app.AUD + "/" + k.KID))
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial[:16]),
		Subject:               pkix.Name{CommonName: k.KID, Organization: []string{"svcauth"}},
		NotBefore:             k.CreatedAt.Add(-time.Hour).UTC(),
		NotAfter:              k.CreatedAt.AddDate(10, 0, 0).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return "", err
	}
	c := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	s.certs.pems.Store(app.AUD+"/"+k.KID, c)
	return c, nil
}
