package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// decodeOptional is decode for endpoints whose body may be absent.
func (s *Server) decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	err := s.decode(w, r, v)
	var de *domain.Error
	if errors.As(err, &de) && de.Code == domain.EInvalid && strings.HasPrefix(de.Message, "request body is empty") {
		return nil
	}
	return err
}

// updateToken runs update on the token named by the {id} path value and
// answers the stored result, or the error. Domain errors from update pass
// through unchanged.
func (s *Server) updateToken(w http.ResponseWriter, r *http.Request, update func(*domain.Token) error) (domain.Token, bool) {
	id := r.PathValue("id")
	t, err := s.store.UpdateToken(r.Context(), id, func(t domain.Token) (domain.Token, error) {
		if err := update(&t); err != nil {
			return t, err
		}
		t.UpdatedAt = s.now().UTC()
		return t, nil
	})
	if err != nil {
		var de *domain.Error
		if !errors.As(err, &de) {
			err = storageErr(err, "service token "+strconv.Quote(id))
			if domain.ErrorCode(err) == domain.EConflict {
				err = domain.Errorf(domain.EConflict, "another service token has that name")
			}
		}
		s.fail(w, r, err)
		return t, false
	}
	return t, true
}

func (s *Server) tokenEvent(r *http.Request, event string, t domain.Token, detail string) {
	s.audit(r.Context(), domain.AuditEvent{
		Event: event, Actor: actor(r.Context()), TokenID: t.ID, TokenName: t.Name, ClientID: t.ClientID,
		RequestID: requestID(r.Context()), Detail: detail,
	})
	s.logger(r.Context()).Info(event, "token_id", t.ID, "token_name", t.Name, "detail", detail)
}

// patchToken is PATCH /v1/service-tokens/{id}: rename, change duration
// (expires_at restarts from now), enable or disable.
func (s *Server) patchToken(w http.ResponseWriter, r *http.Request) {
	var req apiv1.UpdateTokenRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Name == nil && req.Duration == nil && req.Enabled == nil {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "nothing to change: give name, duration or enabled"))
		return
	}
	var duration domain.TokenDuration
	if req.Name != nil {
		if err := domain.ValidateName("service token", *req.Name); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if req.Duration != nil {
		if *req.Duration == "" {
			s.fail(w, r, domain.Errorf(domain.EInvalid, "duration: must not be empty"))
			return
		}
		var err error
		if duration, err = domain.ParseTokenDuration(*req.Duration); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var changes []string
	now := s.now().UTC()
	t, ok := s.updateToken(w, r, func(t *domain.Token) error {
		changes = changes[:0]
		if req.Name != nil && *req.Name != t.Name {
			changes = append(changes, "renamed from "+strconv.Quote(t.Name))
			t.Name = *req.Name
		}
		if req.Duration != nil {
			t.Duration = duration
			t.ExpiresAt = domain.ExpiryFrom(now, duration)
			changes = append(changes, "duration "+duration.String()+", expires "+fmtTimePtr(t.ExpiresAt))
		}
		if req.Enabled != nil && *req.Enabled != t.Enabled {
			t.Enabled = *req.Enabled
			if t.Enabled {
				changes = append(changes, "enabled")
			} else {
				changes = append(changes, "disabled")
			}
		}
		return nil
	})
	if !ok {
		return
	}
	if len(changes) > 0 {
		s.tokenEvent(r, domain.EventTokenUpdated, t, strings.Join(changes, "; "))
	}
	writeJSON(w, http.StatusOK, tokenOut(t, now))
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// refreshToken is POST /v1/service-tokens/{id}/refresh: expires_at = now + duration.
func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := s.decodeOptional(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	t, ok := s.updateToken(w, r, func(t *domain.Token) error {
		t.ExpiresAt = domain.ExpiryFrom(now, t.Duration)
		return nil
	})
	if !ok {
		return
	}
	s.tokenEvent(r, domain.EventTokenRefreshed, t, "expires "+fmtTimePtr(t.ExpiresAt))
	writeJSON(w, http.StatusOK, tokenOut(t, now))
}

// rotateToken is POST /v1/service-tokens/{id}/rotate: a new secret,
// returned once; the previous one keeps working until the grace ends, or
// stops at once.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request) {
	var req apiv1.RotateTokenRequest
	if err := s.decodeOptional(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	var until *time.Time
	switch {
	case req.Grace != "" && req.PreviousSecretExpiresAt != nil:
		s.fail(w, r, domain.Errorf(domain.EInvalid, "give grace or previous_secret_expires_at, not both"))
		return
	case req.Grace != "":
		g, err := time.ParseDuration(req.Grace)
		if err != nil || g <= 0 {
			s.fail(w, r, domain.Errorf(domain.EInvalid, "grace %q: want a positive Go duration such as \"24h\"", req.Grace))
			return
		}
		u := now.Add(g)
		until = &u
	case req.PreviousSecretExpiresAt != nil:
		u := req.PreviousSecretExpiresAt.UTC()
		if !u.After(now) {
			s.fail(w, r, domain.Errorf(domain.EInvalid, "previous_secret_expires_at must be in the future"))
			return
		}
		until = &u
	}
	if until != nil && until.Sub(now) > domain.MaxRotationGrace {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "the previous secret can be kept for at most 30 days (720h)"))
		return
	}
	secret := credential.NewSecret()
	t, ok := s.updateToken(w, r, func(t *domain.Token) error {
		if until != nil {
			t.PreviousSecretHash, t.PreviousSecretExpiresAt = t.SecretHash, until
		} else {
			t.PreviousSecretHash, t.PreviousSecretExpiresAt = nil, nil
			// Without grace the old secret's sessions are revoked too.
			t.SessionsRevokedAt = &now
		}
		t.SecretHash = s.keys.HashSecret(secret)
		t.ClientSecretVersion++
		return nil
	})
	if !ok {
		return
	}
	detail := "secret version " + strconv.Itoa(t.ClientSecretVersion) + "; previous secret revoked"
	if until != nil {
		detail = "secret version " + strconv.Itoa(t.ClientSecretVersion) + "; previous secret valid until " + fmtTimePtr(until)
	}
	s.tokenEvent(r, domain.EventTokenRotated, t, detail)
	out := tokenOut(t, now)
	out.ClientSecret = secret
	writeJSON(w, http.StatusOK, out)
}

// deleteToken is DELETE /v1/service-tokens/{id}[?force=true]. A token that
// policies name is kept (409) unless forced; forcing removes it from them.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		var err error
		if force, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, domain.Errorf(domain.EInvalid, "force %q: want true or false", v))
			return
		}
	}
	ctx := r.Context()
	t, err := s.store.GetToken(ctx, id)
	if err != nil {
		s.fail(w, r, storageErr(err, "service token "+strconv.Quote(id)))
		return
	}
	policies, err := s.store.PoliciesNamingToken(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(policies) > 0 && !force {
		names := make([]string, 0, len(policies))
		for _, p := range policies {
			names = append(names, "policy "+p.ID+" of application "+p.AppID)
		}
		s.fail(w, r, domain.Errorf(domain.EConflict, "service token %q is named by %s; remove it from them or delete with ?force=true",
			t.Name, strings.Join(names, ", ")))
		return
	}
	for _, p := range policies {
		updated, err := s.store.UpdatePolicy(ctx, p.AppID, p.ID, func(p domain.Policy) (domain.Policy, error) {
			p.Include, p.Exclude = withoutToken(p.Include, id), withoutToken(p.Exclude, id)
			p.UpdatedAt = s.now().UTC()
			return p, nil
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		if err == nil {
			s.audit(ctx, domain.AuditEvent{Event: domain.EventPolicyUpdated, Actor: actor(ctx), AppID: updated.AppID,
				PolicyID: updated.ID, TokenID: t.ID, TokenName: t.Name, RequestID: requestID(ctx),
				Detail: "rules naming the deleted token removed"})
		}
	}
	// The token's live sessions are revoked, at the issuer's time, in the
	// record the delete leaves for filter sync.
	if err := s.stampSessionsRevoked(ctx, id, s.now().UTC()); err != nil {
		s.fail(w, r, storageErr(err, "service token "+strconv.Quote(id)))
		return
	}
	if err := s.store.DeleteToken(ctx, id); err != nil {
		s.fail(w, r, storageErr(err, "service token "+strconv.Quote(id)))
		return
	}
	detail := ""
	if len(policies) > 0 {
		detail = "forced; removed from " + strconv.Itoa(len(policies)) + " policies"
	}
	s.tokenEvent(r, domain.EventTokenDeleted, t, detail)
	w.WriteHeader(http.StatusNoContent)
}

func withoutToken(rules []domain.Rule, tokenID string) []domain.Rule {
	out := rules[:0:0]
	for _, r := range rules {
		if r.ServiceToken == nil || r.ServiceToken.TokenID != tokenID {
			out = append(out, r)
		}
	}
	return out
}

// importToken is POST /v1/service-tokens/import: register a client id and
// secret that clients already hold (for example from Cloudflare Access).
func (s *Server) importToken(w http.ResponseWriter, r *http.Request) {
	var req apiv1.ImportTokenRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := domain.ValidateName("service token", req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	if !credential.ValidClientID(req.ClientID) {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "client_id: want 32 lowercase hex followed by .access"))
		return
	}
	if !credential.ValidSecret(req.ClientSecret) {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "client_secret: want 64 lowercase hex (as Cloudflare Access issues) or a svcauth secret"))
		return
	}
	duration, err := domain.ParseTokenDuration(req.Duration)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	t := s.newToken(req.Name, req.ClientID, req.ClientSecret, duration, now)
	if err := s.store.CreateToken(r.Context(), t); err != nil {
		if errors.Is(err, storage.ErrClientIDRetired) {
			err = domain.Errorf(domain.EConflict, "client id %s belonged to a deleted service token: a deleted credential can never be registered again; create a new token instead", req.ClientID)
		}
		s.fail(w, r, passDomainErr(err, "service token with that name or client id"))
		return
	}
	s.tokenEvent(r, domain.EventTokenCreated, t, "imported; duration "+duration.String())
	writeJSON(w, http.StatusCreated, tokenOut(t, now))
}
