package api

import (
	"net/http"
	"strconv"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
)

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	var req apiv1.CreateAppRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := domain.ValidateName("application", req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	domains, err := domain.NormalizeDomains(req.Domains)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sessionDuration, err := domain.ParseSessionDuration(req.SessionDuration)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	alg, err := domain.ParseSessionAlgorithm(req.SessionAlgorithm)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	a := domain.App{
		ID:               domain.NewID(),
		Name:             req.Name,
		Domains:          domains,
		AUD:              domain.NewAUD(),
		SessionDuration:  sessionDuration,
		KeyVersion:       1,
		SessionAlgorithm: alg,
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	if alg == session.RS256 {
		priv, err := keys.NewRSAKey()
		if err == nil {
			var first domain.AppKey
			first, err = s.keys.RSAKeyMaterial(a.AUD, domain.KeyID(a.AUD, a.KeyVersion), priv)
			a.FirstKey = &first
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := s.store.CreateApp(r.Context(), a); err != nil {
		s.fail(w, r, storageErr(err, "application named "+strconv.Quote(req.Name)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{
		Time: now, Event: domain.EventAppCreated, Actor: actor(r.Context()),
		AppID: a.ID, AppName: a.Name, RequestID: requestID(r.Context()), Detail: "session algorithm " + alg,
	})
	s.logger(r.Context()).Info("application created", "app_id", a.ID, "app_name", a.Name, "session_algorithm", alg)
	writeJSON(w, http.StatusCreated, appOut(a))
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.store.ListApps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := apiv1.List[apiv1.App]{Items: make([]apiv1.App, 0, len(apps))}
	for _, a := range apps {
		out.Items = append(out.Items, appOut(a))
	}
	writeJSON(w, http.StatusOK, out)
}

// loadApp returns the app named by the {id} path value.
func (s *Server) loadApp(r *http.Request) (domain.App, error) {
	id := r.PathValue("id")
	a, err := s.store.GetApp(r.Context(), id)
	if err != nil {
		return domain.App{}, storageErr(err, "application "+strconv.Quote(id))
	}
	return a, nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, appOut(a))
}
