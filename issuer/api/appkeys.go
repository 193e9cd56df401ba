package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func appKeyOut(k domain.KeyStatus) apiv1.AppKey {
	return apiv1.AppKey{
		KID:         k.KID,
		Version:     k.Version,
		CreatedAt:   k.CreatedAt.UTC(),
		ActivatesAt: k.ActivatesAt.UTC(),
		RetiresAt:   utc(k.Retires),
		State:       k.State,
	}
}

// listAppKeys is GET /v1/apps/{id}/keys: every key version of the app with
// its state, oldest first. Never key material.
func (s *Server) listAppKeys(w http.ResponseWriter, r *http.Request) {
	app, err := s.loadApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	appKeys, err := s.store.ListAppKeys(r.Context(), app.ID)
	if err != nil {
		s.fail(w, r, storageErr(err, "application "+strconv.Quote(app.ID)))
		return
	}
	statuses := domain.KeyStatuses(app, appKeys, s.now())
	out := apiv1.List[apiv1.AppKey]{Items: make([]apiv1.AppKey, 0, len(statuses))}
	for _, k := range statuses {
		out.Items = append(out.Items, appKeyOut(k))
	}
	writeJSON(w, http.StatusOK, out)
}

// rotateAppKey is POST /v1/apps/{id}/keys/rotate {"activate_after":"30s"}:
// a new key version, published to filters at once and signing from
// now + activate_after; the key it replaces stays published until the
// sessions it signed have expired. Answers 201 with the new key.
func (s *Server) rotateAppKey(w http.ResponseWriter, r *http.Request) {
	var req apiv1.RotateAppKeyRequest
	if err := s.decodeOptional(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	after, err := domain.ParseKeyActivateAfter(req.ActivateAfter)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	now := s.now().UTC()
	var (
		app   domain.App
		added domain.AppKey
	)
	appKeys, err := s.store.UpdateAppKeys(r.Context(), id, func(a domain.App, old []domain.AppKey) ([]domain.AppKey, error) {
		app = a
		out, nk := domain.RotateAppKeys(a, old, now, after)
		added = nk
		return out, nil
	})
	if err != nil {
		s.fail(w, r, storageErr(err, "application "+strconv.Quote(id)))
		return
	}
	var (
		created domain.KeyStatus
		notes   []string
	)
	for _, k := range domain.KeyStatuses(app, appKeys, now) {
		switch {
		case k.Version == added.Version:
			created = k
		case k.State != domain.KeyRetired && k.Retires != nil:
			notes = append(notes, k.KID+" retires at "+k.Retires.UTC().Format(time.RFC3339))
		}
	}
	detail := "key " + created.KID + " published; signs from " + created.ActivatesAt.UTC().Format(time.RFC3339)
	if len(notes) > 0 {
		detail += "; " + strings.Join(notes, "; ")
	}
	s.audit(r.Context(), domain.AuditEvent{Time: now, Event: domain.EventAppKeyRotated, Actor: actor(r.Context()),
		AppID: app.ID, AppName: app.Name, RequestID: requestID(r.Context()), Detail: detail})
	s.logger(r.Context()).Info("application key rotated", "app_id", app.ID, "kid", created.KID, "activates_at", created.ActivatesAt)
	writeJSON(w, http.StatusCreated, appKeyOut(created))
}
