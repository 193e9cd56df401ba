package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/internal/httpx"
	"github.com/svcauth/svcauth/issuer/storage"
)

// handleExchange is POST /v1/exchange: the filter trades a client id and
// secret for a session JWT of one application. Tokens and applications come
// from the exchange cache (a miss reads the ExchangeStore once); the audit
// row and last_seen_at are queued and written in batches: no database write
// per request. `svcauth serve` answers it on fasthttp (serveExchange); this
// net/http handler serves Server.ServeHTTP's callers (tests, embedding).
func (s *Server) handleExchange(w http.ResponseWriter, r *http.Request) {
	var answer []byte
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		s.fast.failed.Inc()
		err = s.decodeError(err)
	} else {
		answer, err = s.exchangeBody(r.Context(), body, nil, peerAddr(r.RemoteAddr))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setJSONHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	w.Write(answer)
}

// exchangeBody is the exchange of a body already read (by net/http or
// fasthttp, see httpserver.go) from the connection's peer: parse, then
// doExchange, which appends the answer to answer.
func (s *Server) exchangeBody(ctx context.Context, body, answer []byte, peer netip.Addr) ([]byte, error) {
	if int64(len(body)) > s.maxBody {
		s.fast.failed.Inc()
		return nil, s.decodeError(&http.MaxBytesError{Limit: s.maxBody})
	}
	req, err := s.parseExchangeBody(body)
	if err != nil {
		s.fast.failed.Inc()
		return nil, err
	}
	return s.doExchange(ctx, &req, answer, peer)
}

// peerAddr is the address of a net/http RemoteAddr ("ip:port"), or the
// zero Addr.
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// doExchange exchanges req and appends its JSON answer (apiv1.ExchangeResponse
// as writeJSON writes it) to answer, signing the session in place.
func (s *Server) doExchange(ctx context.Context, req *apiv1.ExchangeRequest, answer []byte, peer netip.Addr) ([]byte, error) {
	now := s.now()
	ev := domain.AuditEvent{
		Time:      now.UTC(),
		Actor:     domain.ActorExchange,
		SourceIP:  normalizeSourceIP(req.SourceIP),
		RequestID: sanitizeRequestID(req.RequestID),
	}
	if ev.RequestID == "" {
		ev.RequestID = requestID(ctx)
	}
	// A client id is not a secret, but a caller may have put a secret in
	// the wrong field: only a well-formed client id is ever recorded.
	if credential.ValidClientID(req.ClientID) {
		ev.ClientID = req.ClientID
	}

	if !domain.ValidAUD(req.AUD) {
		s.fast.failed.Inc()
		return nil, domain.Errorf(domain.EInvalid, "aud: want the application's 64-hex audience tag")
	}
	ea, err := s.cache.app(ctx, req.AUD, now)
	if err != nil {
		s.fast.failed.Inc()
		if errors.Is(err, storage.ErrNotFound) {
			s.logger(ctx).Error("exchange for an unknown application: is the filter configured with a deleted app?", "aud", req.AUD)
			return nil, domain.Errorf(domain.ENotFound, "unknown application")
		}
		return nil, err
	}
	app := &ea.app
	ev.AppID, ev.AppName = app.ID, app.Name

	// Failures are charged to the source the guard believes (see
	// exchangeguard.go); the audit row keeps the address the filter sent.
	var src netip.Addr
	if s.guard != nil {
		src = s.guard.source(ev.SourceIP, peer)
	}
	deny := func(code, reason, detail string) error {
		s.fast.denied.Inc()
		s.metrics.denials.WithLabelValues(reason).Inc()
		ev.Event, ev.Reason, ev.Detail = domain.EventSessionDenied, reason, detail
		s.denials.add(ev, s.logger(ctx))
		if code == domain.EUnauthorized && s.guard != nil {
			s.guard.failed(ev.ClientID, src, now)
		}
		msg := "credentials refused"
		if code == domain.EForbidden {
			msg = "no policy admits this service token to the application"
		}
		return &domain.Error{Code: code, Reason: reason, Message: msg}
	}

	if s.guard != nil {
		if key, wait := s.guard.blocked(ev.ClientID, src, now); key != "" {
			// Before the secret is hashed or the token read: a throttled
			// attempt costs a map lookup and, per window, one audit row.
			s.metrics.denials.WithLabelValues(domain.ReasonTooManyFailures).Inc()
			s.fast.denied.Inc()
			ev.Event, ev.Reason, ev.Detail = domain.EventSessionDenied, domain.ReasonTooManyFailures, "throttled by "+key
			if key == throttleKeySource {
				ev.ClientID = "" // one row per source, whatever ids it tries
			}
			s.denials.add(ev, s.logger(ctx))
			return nil, tooManyFailures(key, wait)
		}
	}

	if !credential.ValidClientID(req.ClientID) || !credential.ValidSecret(req.ClientSecret) {
		return nil, deny(domain.EUnauthorized, domain.ReasonMalformedCredentials, "")
	}
	// The secret is hashed before the token is looked up, so that an
	// unknown client id and a wrong secret cost the same work (the answer's
	// reason tells them apart anyway, but its timing need not add to it).
	var sum [32]byte
	hash := s.keys.AppendSecretHash(sum[:0], req.ClientSecret)
	tok, err := s.cache.token(ctx, req.ClientID, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, deny(domain.EUnauthorized, domain.ReasonUnknownClient, "")
	}
	if err != nil {
		s.fast.failed.Inc()
		return nil, err
	}
	ev.TokenID, ev.TokenName = tok.ID, tok.Name
	if !secretMatches(tok, hash, now) {
		return nil, deny(domain.EUnauthorized, domain.ReasonInvalidSecret, "")
	}
	if !tok.Enabled {
		return nil, deny(domain.EUnauthorized, domain.ReasonTokenDisabled, "")
	}
	if tok.Expired(now) {
		return nil, deny(domain.EUnauthorized, domain.ReasonTokenExpired, "")
	}

	eval := domain.Evaluate(ea.policies, domain.Subject{TokenID: tok.ID})
	if eval.Policy != nil {
		ev.PolicyID = eval.Policy.ID
	}
	switch eval.Outcome {
	case domain.OutcomeAdmit:
	case domain.OutcomeDeny:
		return nil, deny(domain.EForbidden, domain.ReasonDeniedByPolicy, "deny policy matched")
	case domain.OutcomeIdentityRequired:
		return nil, deny(domain.EForbidden, domain.ReasonNoMatchingPolicy,
			"an allow policy matched first; service tokens need a Service Auth (non_identity) policy")
	default:
		return nil, deny(domain.EForbidden, domain.ReasonNoMatchingPolicy, "")
	}

	sg, ok := ea.signer(now)
	if !ok {
		s.fast.failed.Inc()
		return nil, errors.New("application " + app.ID + " has no signing key")
	}
	iat := domain.SessionIssuedAt(app, tok, now)
	claims := session.Claims{
		Type:       session.TypeApp,
		Audience:   app.AUD,
		Issuer:     s.issuerURL,
		IssuedAt:   iat,
		NotBefore:  iat,
		ExpiresAt:  iat + int64(app.SessionDuration.Seconds()),
		CommonName: tok.ClientID,
		Subject:    "",
		ID:         httpx.RandomHex(16), // jti: 128 random bits
		TokenID:    tok.ID,
	}
	answer, err = appendExchangeAnswer(answer, sg, claims)
	if err != nil {
		s.fast.failed.Inc()
		return nil, err
	}
	s.seen.mark(tok.ID, now)
	if s.guard != nil {
		s.guard.succeeded(tok.ClientID, src, now)
	}
	s.fast.issued.Inc()
	ev.Event = domain.EventSessionIssued
	ev.Detail = "jti " + claims.ID
	s.auditAsync(ev)
	if s.log.Enabled(ctx, slog.LevelDebug) { // the request's logger is made on first use
		s.logger(ctx).Debug("session issued", "app_id", app.ID, "token_id", tok.ID, "token_name", tok.Name, "policy_id", ev.PolicyID, "jti", claims.ID)
	}
	return answer, nil
}

// secretMatches compares hash with the token's current secret hash and,
// during a rotation's grace period, its previous one; both in constant time.
func secretMatches(t *domain.Token, hash []byte, now time.Time) bool {
	ok := subtle.ConstantTimeCompare(hash, t.SecretHash) == 1
	if len(t.PreviousSecretHash) > 0 && t.PreviousSecretExpiresAt != nil && now.Before(*t.PreviousSecretExpiresAt) {
		ok = subtle.ConstantTimeCompare(hash, t.PreviousSecretHash) == 1 || ok
	}
	return ok
}

// normalizeSourceIP keeps the address part of "ip" or "ip:port", or "".
func normalizeSourceIP(s string) string {
	if s == "" || len(s) > 64 {
		return ""
	}
	// The filter sends a bare address: try that form first (a failed
	// ParseAddrPort allocates its error). No string parses both ways.
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Is4() {
			// ParseAddr accepts only the canonical dotted form of an IPv4
			// address (no leading zeros): s is what String would allocate.
			return s
		}
		return a.String()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	return ""
}
