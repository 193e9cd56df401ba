package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Paging bounds of list endpoints.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req apiv1.CreateTokenRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := domain.ValidateName("service token", req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	duration, err := domain.ParseTokenDuration(req.Duration)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	secret := credential.NewSecret()
	t := s.newToken(req.Name, credential.NewClientID(), secret, duration, now)
	if err := s.store.CreateToken(r.Context(), t); err != nil {
		s.fail(w, r, storageErr(err, "service token named "+strconv.Quote(req.Name)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{
		Time: now, Event: domain.EventTokenCreated, Actor: actor(r.Context()),
		TokenID: t.ID, TokenName: t.Name, ClientID: t.ClientID, RequestID: requestID(r.Context()),
		Detail: "duration " + duration.String(),
	})
	s.logger(r.Context()).Info("service token created", "token_id", t.ID, "token_name", t.Name, "client_id", t.ClientID)
	out := tokenOut(t, now)
	out.ClientSecret = secret
	writeJSON(w, http.StatusCreated, out)
}

// newToken is a new enabled service token (created or imported) holding
// clientID and the hash of secret, at its first secret version, expiring
// duration after now.
func (s *Server) newToken(name, clientID, secret string, duration domain.TokenDuration, now time.Time) domain.Token {
	return domain.Token{
		ID:                  domain.NewID(),
		Name:                name,
		ClientID:            clientID,
		SecretHash:          s.keys.HashSecret(secret),
		ClientSecretVersion: 1,
		Duration:            duration,
		ExpiresAt:           domain.ExpiryFrom(now, duration),
		Enabled:             true,
		CreatedAt:           now,
		UpdatedAt:           now,
	}
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := pageSize(q.Get("limit"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tokens, err := s.store.ListTokens(r.Context(), storage.TokenFilter{Name: q.Get("name"), After: q.Get("after"), Limit: limit + 1})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	out := apiv1.List[apiv1.Token]{Items: make([]apiv1.Token, 0, len(tokens))}
	if len(tokens) > limit {
		tokens = tokens[:limit]
		out.NextCursor = tokens[limit-1].Name
	}
	for _, t := range tokens {
		out.Items = append(out.Items, tokenOut(t, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func pageSize(s string) (int, error) {
	if s == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, domain.Errorf(domain.EInvalid, "limit %q: want a number from 1 to %d", s, maxPageSize)
	}
	return n, nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, err := s.store.GetToken(r.Context(), id)
	if err != nil {
		s.fail(w, r, storageErr(err, "service token "+strconv.Quote(id)))
		return
	}
	writeJSON(w, http.StatusOK, tokenOut(t, s.now()))
}
