package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// passDomainErr returns err unchanged when it is a domain error, else the
// storage error mapped for what.
func passDomainErr(err error, what string) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	return storageErr(err, what)
}

// patchApp is PATCH /v1/apps/{id}: rename, change domains or session
// duration, switch the session algorithm (a key rotation to a key of the
// other algorithm: published at once, signing after activate_after).
func (s *Server) patchApp(w http.ResponseWriter, r *http.Request) {
	var req apiv1.UpdateAppRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Name == nil && req.Domains == nil && req.SessionDuration == nil && req.SessionAlgorithm == nil {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "nothing to change: give name, domains, session_duration or session_algorithm"))
		return
	}
	alg, after, err := parseAlgorithmSwitch(req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var (
		domains []string
		session = domain.DefaultSessionDuration
	)
	if req.Name != nil {
		if err := domain.ValidateName("application", *req.Name); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if req.Domains != nil {
		if domains, err = domain.NormalizeDomains(*req.Domains); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if req.SessionDuration != nil {
		if *req.SessionDuration == "" {
			s.fail(w, r, domain.Errorf(domain.EInvalid, "session_duration: must not be empty"))
			return
		}
		if session, err = domain.ParseSessionDuration(*req.SessionDuration); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	id := r.PathValue("id")
	var (
		changes  []string
		switchTo string // set per attempt: the updater may run again (a lost serialization race)
	)
	app, err := s.store.UpdateApp(r.Context(), id, func(a domain.App) (domain.App, error) {
		changes, switchTo = changes[:0], ""
		if req.Name != nil && *req.Name != a.Name {
			changes = append(changes, "renamed from "+strconv.Quote(a.Name))
			a.Name = *req.Name
		}
		if req.Domains != nil {
			a.Domains = domains
			changes = append(changes, "domains "+strings.Join(domains, ","))
		}
		if req.SessionDuration != nil {
			a.SessionDuration = session
			changes = append(changes, "session duration "+domain.FormatDuration(session))
		}
		if alg != "" && alg != a.SessionAlgorithm {
			switchTo = alg
			changes = append(changes, "session algorithm "+a.SessionAlgorithm+" to "+alg)
		}
		a.UpdatedAt = s.now().UTC()
		return a, nil
	})
	if err != nil {
		if domain.ErrorCode(storageErr(err, "")) == domain.EConflict {
			s.fail(w, r, domain.Errorf(domain.EConflict, "another application has that name"))
			return
		}
		s.fail(w, r, passDomainErr(err, "application "+strconv.Quote(id)))
		return
	}
	// Audited before the switch: these changes are stored whatever the
	// rotation does.
	s.audit(r.Context(), domain.AuditEvent{Event: domain.EventAppUpdated, Actor: actor(r.Context()), AppID: app.ID, AppName: app.Name,
		RequestID: requestID(r.Context()), Detail: strings.Join(changes, "; ")})
	if switchTo != "" {
		// The switch is a rotation to a key of the other algorithm, after
		// the app's other changes are stored: those cannot fail on the
		// keys, and a rotation that fails leaves the app on its old key.
		rotatedApp, appKeys, added, err := s.rotateKeys(r, id, switchTo, true, after)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		app = rotatedApp
		if added.Version != 0 {
			s.auditRotation(r, app, appKeys, added)
		}
	}
	writeJSON(w, http.StatusOK, appOut(app))
}

// parseAlgorithmSwitch returns the session algorithm req switches to ("" for
// none) and its activate_after, which is refused without session_algorithm.
func parseAlgorithmSwitch(req apiv1.UpdateAppRequest) (string, time.Duration, error) {
	if req.SessionAlgorithm == nil {
		if req.ActivateAfter != nil {
			return "", 0, domain.Errorf(domain.EInvalid, "activate_after: only with session_algorithm (use the key rotation to rotate)")
		}
		return "", 0, nil
	}
	if *req.SessionAlgorithm == "" {
		return "", 0, domain.Errorf(domain.EInvalid, "session_algorithm: must not be empty")
	}
	alg, err := domain.ParseSessionAlgorithm(*req.SessionAlgorithm)
	if err != nil {
		return "", 0, err
	}
	var after string
	if req.ActivateAfter != nil {
		after = *req.ActivateAfter
	}
	d, err := domain.ParseKeyActivateAfter(after)
	return alg, d, err
}

// deleteApp is DELETE /v1/apps/{id}; its policies go with it. Filters
// configured for it get 404 from the exchange (and answer 503).
func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.DeleteApp(r.Context(), app.ID); err != nil {
		s.fail(w, r, storageErr(err, "application "+strconv.Quote(app.ID)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{Event: domain.EventAppDeleted, Actor: actor(r.Context()), AppID: app.ID, AppName: app.Name,
		RequestID: requestID(r.Context())})
	w.WriteHeader(http.StatusNoContent)
}

// revokeSessions is POST /v1/apps/{id}/revoke-sessions: sessions issued
// before now stop being valid; credentials can exchange again at once.
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := s.decodeOptional(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	now := s.now().UTC()
	app, err := s.store.UpdateApp(r.Context(), id, func(a domain.App) (domain.App, error) {
		a.SessionsNotBefore = &now
		a.UpdatedAt = now
		return a, nil
	})
	if err != nil {
		s.fail(w, r, storageErr(err, "application "+strconv.Quote(id)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{Event: domain.EventSessionsRevoke, Actor: actor(r.Context()), AppID: app.ID, AppName: app.Name,
		RequestID: requestID(r.Context()), Detail: "sessions issued before " + fmtTimePtr(&now) + " revoked"})
	writeJSON(w, http.StatusOK, appOut(app))
}

// patchPolicy is PATCH /v1/apps/{id}/policies/{policy_id}.
func (s *Server) patchPolicy(w http.ResponseWriter, r *http.Request) {
	var req apiv1.UpdatePolicyRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Name == nil && req.Decision == nil && req.Include == nil && req.Exclude == nil && req.Precedence == nil {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "nothing to change: give name, decision, include, exclude or precedence"))
		return
	}
	if req.Precedence != nil && *req.Precedence < 1 {
		s.fail(w, r, domain.Errorf(domain.EInvalid, "precedence must be at least 1"))
		return
	}
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("policy_id")
	ctx := r.Context()
	p, err := s.store.GetPolicy(ctx, app.ID, id)
	if err != nil {
		s.fail(w, r, storageErr(err, "policy "+strconv.Quote(id)+" in application "+strconv.Quote(app.ID)))
		return
	}
	if req.Name != nil {
		p.Name = *req.Name
	}
	if req.Decision != nil {
		p.Decision = domain.Decision(*req.Decision)
	}
	if req.Include != nil {
		p.Include = *req.Include
	}
	if req.Exclude != nil {
		p.Exclude = *req.Exclude
	}
	if req.Precedence != nil {
		p.Precedence = *req.Precedence
	}
	if err := s.validatePolicy(ctx, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	want := p
	p, err = s.store.UpdatePolicy(ctx, app.ID, id, func(old domain.Policy) (domain.Policy, error) {
		want.CreatedAt = old.CreatedAt
		want.UpdatedAt = s.now().UTC()
		return want, nil
	})
	if err != nil {
		s.fail(w, r, storageErr(err, "policy "+strconv.Quote(id)))
		return
	}
	s.audit(ctx, domain.AuditEvent{Event: domain.EventPolicyUpdated, Actor: actor(ctx), AppID: app.ID, AppName: app.Name,
		PolicyID: p.ID, RequestID: requestID(ctx), Detail: string(p.Decision) + " policy at precedence " + strconv.Itoa(p.Precedence)})
	writeJSON(w, http.StatusOK, policyOut(p))
}

// deletePolicy is DELETE /v1/apps/{id}/policies/{policy_id}.
func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) {
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("policy_id")
	if err := s.store.DeletePolicy(r.Context(), app.ID, id); err != nil {
		s.fail(w, r, storageErr(err, "policy "+strconv.Quote(id)+" in application "+strconv.Quote(app.ID)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{Event: domain.EventPolicyDeleted, Actor: actor(r.Context()), AppID: app.ID, AppName: app.Name,
		PolicyID: id, RequestID: requestID(r.Context())})
	w.WriteHeader(http.StatusNoContent)
}
