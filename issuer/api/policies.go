package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) {
	var req apiv1.CreatePolicyRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	p := domain.Policy{
		ID:        domain.NewID(),
		AppID:     app.ID,
		Name:      req.Name,
		Decision:  domain.Decision(req.Decision),
		Include:   req.Include,
		Exclude:   req.Exclude,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := s.validatePolicy(r.Context(), &p); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err = s.store.CreatePolicy(r.Context(), p)
	if err != nil {
		s.fail(w, r, storageErr(err, "application "+strconv.Quote(app.ID)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{
		Time: now, Event: domain.EventPolicyCreated, Actor: actor(r.Context()),
		AppID: app.ID, AppName: app.Name, PolicyID: p.ID, RequestID: requestID(r.Context()),
		Detail: string(p.Decision) + " policy " + strconv.Quote(p.Name) + " at precedence " + strconv.Itoa(p.Precedence),
	})
	s.logger(r.Context()).Info("policy created", "app_id", app.ID, "policy_id", p.ID, "decision", p.Decision)
	writeJSON(w, http.StatusCreated, policyOut(p))
}

// validatePolicy checks p and that every token its rules name exists.
func (s *Server) validatePolicy(ctx context.Context, p *domain.Policy) error {
	if err := domain.ValidatePolicy(p); err != nil {
		return err
	}
	for _, list := range []struct {
		name  string
		rules []domain.Rule
	}{{"include", p.Include}, {"exclude", p.Exclude}} {
		for i, rule := range list.rules {
			if rule.ServiceToken == nil {
				continue
			}
			_, err := s.store.GetToken(ctx, rule.ServiceToken.TokenID)
			if errors.Is(err, storage.ErrNotFound) {
				return domain.Errorf(domain.EInvalid, "%s[%d]: no service token %q", list.name, i, rule.ServiceToken.TokenID)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) {
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	policies, err := s.store.ListPolicies(r.Context(), app.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := apiv1.List[apiv1.Policy]{Items: make([]apiv1.Policy, 0, len(policies))}
	for _, p := range policies {
		out.Items = append(out.Items, policyOut(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("policy_id")
	p, err := s.store.GetPolicy(r.Context(), app.ID, id)
	if err != nil {
		s.fail(w, r, storageErr(err, "policy "+strconv.Quote(id)+" in application "+strconv.Quote(app.ID)))
		return
	}
	writeJSON(w, http.StatusOK, policyOut(p))
}
