package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/svcauth/svcauth/issuer/domain"
)

// admin wraps h so that it runs only for requests carrying a valid admin
// key (Authorization: Bearer <key>); the key's name becomes the actor of
// the request's audit rows.
func (s *Server) admin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := s.authenticateAdmin(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), ctxActor, name)
		ctx = context.WithValue(ctx, ctxLogger, s.logger(ctx).With("actor", name))
		if err := checkPathIDs(r); err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r.WithContext(ctx))
	})
}

// checkPathIDs refuses, with 400, a request whose {id} or {…_id} path
// wildcard is not an id the issuer could have made, so that a malformed id
// is told apart from an unknown one (404) before any storage access.
func checkPathIDs(r *http.Request) error {
	for rest := r.Pattern; ; {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			return nil
		}
		name, tail, _ := strings.Cut(after, "}")
		rest = tail
		name = strings.TrimSuffix(name, "...")
		if name != "id" && !strings.HasSuffix(name, "_id") {
			continue
		}
		if !domain.ValidID(r.PathValue(name)) {
			return domain.Errorf(domain.EInvalid, "path parameter %s: not a valid id (want a UUID such as 1b4e28ba-2fa1-41d2-883f-0016d3cca427)", name)
		}
	}
}

var errAdminAuth = domain.Errorf(domain.EUnauthorized, "missing or invalid admin key: send Authorization: Bearer <admin key>")

// authenticateAdmin returns the name of the admin key in header. Every
// live key's hash is compared in constant time.
func (s *Server) authenticateAdmin(ctx context.Context, header string) (string, error) {
	scheme, key, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errAdminAuth
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", errAdminAuth
	}
	hash := s.keys.HashAdminKey(key)
	all, err := s.store.ListAdminKeys(ctx)
	if err != nil {
		return "", err
	}
	name := ""
	for _, k := range all {
		if subtle.ConstantTimeCompare(hash, k.Hash) == 1 && k.RevokedAt == nil {
			name = k.Name
		}
	}
	if name == "" {
		return "", errAdminAuth
	}
	return name, nil
}
