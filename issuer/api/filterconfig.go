package api

import (
	"encoding/base64"
	"net/http"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// Filter configuration defaults.
const (
	DefaultCluster             = "svcauth-issuer"
	DefaultAuthority           = "svcauth-issuer"
	DefaultSyncPeriodMS        = 2000
	DefaultSessionCacheSize    = 4096
	DefaultCredentialCacheSize = 4096
)

// filterConfig answers the plugin configuration of the app: its audience,
// every published session key (never another app's), and how to reach this
// issuer through Envoy.
func (s *Server) filterConfig(w http.ResponseWriter, r *http.Request) {
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	cluster, authority := q.Get("cluster"), q.Get("authority")
	if cluster == "" {
		cluster = DefaultCluster
	}
	if authority == "" {
		authority = DefaultAuthority
	}
	if !validClusterName(cluster) {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "cluster %q: want 1 to 255 letters, digits or . _ - : |", cluster))
		return
	}
	if !validAuthority(authority) {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "authority %q: want a host name with an optional port", authority))
		return
	}
	appKeys, err := s.store.ListAppKeys(r.Context(), app.ID)
	if err != nil {
		s.fail(w, r, storageErr(err, "application "+app.ID))
		return
	}
	cfg, err := s.filterConfigFor(app, appKeys, cluster, authority)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}

// publishedKey is key k of aud as filters get it (the secret of an HS256
// key, the public half, JWK n and e, of an RS256 one), and its session.Key.
func (s *Server) publishedKey(aud string, k domain.AppKey) (apiv1.FilterKey, session.Key, error) {
	vk, err := s.keys.VerifyKey(aud, k)
	if err != nil {
		return apiv1.FilterKey{}, vk, err
	}
	if vk.Public != nil {
		n, e := session.RSAPublicJWK(vk.Public)
		return apiv1.FilterKey{KID: vk.ID, Alg: session.RS256, N: n, E: e}, vk, nil
	}
	return apiv1.FilterKey{KID: vk.ID, Key: base64.RawURLEncoding.EncodeToString(vk.Secret)}, vk, nil
}

func (s *Server) filterConfigFor(app domain.App, appKeys []domain.AppKey, cluster, authority string) (apiv1.FilterConfig, error) {
	published := domain.PublishedKeys(app, appKeys, s.now())
	fk := make([]apiv1.FilterKey, 0, len(published))
	for _, k := range published {
		key, _, err := s.publishedKey(app.AUD, k.AppKey)
		if err != nil {
			return apiv1.FilterConfig{}, err
		}
		fk = append(fk, key)
	}
	return apiv1.FilterConfig{
		Audience: app.AUD,
		Keys:     fk,
		Issuer: apiv1.FilterIssuer{
			Cluster:      cluster,
			Authority:    authority,
			ExchangePath: "/v1/exchange",
			SyncPath:     SyncPath,
			TimeoutMS:    2000,
		},
		CookieName:            "CF_Authorization",
		TokenHeader:           "cf-access-token",
		ClientIDHeader:        "cf-access-client-id",
		ClientSecretHeader:    "cf-access-client-secret",
		JSONCredentialsHeader: "",
		AssertionHeader:       "cf-access-jwt-assertion",
		ExemptPathPrefixes:    []string{},
		AllowCORSPreflight:    false,
		ClockSkewSeconds:      30,
		SyncPeriodMS:          DefaultSyncPeriodMS,
		SessionCacheSize:      DefaultSessionCacheSize,
		CredentialCacheSize:   DefaultCredentialCacheSize,
	}, nil
}

func validClusterName(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		// '|' appears in Istio's cluster names: outbound|8081||svcauth-issuer.svcauth.svc.cluster.local
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' && c != ':' && c != '|' {
			return false
		}
	}
	return true
}

func validAuthority(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '-' && c != ':' && c != '[' && c != ']' && c != '_' {
			return false
		}
	}
	return true
}
