package api

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
)

func appKeyOut(k domain.KeyStatus) apiv1.AppKey {
	return apiv1.AppKey{
		KID:         k.KID,
		Version:     k.Version,
		CreatedAt:   k.CreatedAt.UTC(),
		ActivatesAt: k.ActivatesAt.UTC(),
		RetiresAt:   utc(k.Retires),
		State:       k.State,
		Algorithm:   k.Algorithm,
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
	app, appKeys, added, err := s.rotateKeys(r, r.PathValue("id"), "", false, after)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	created := s.auditRotation(r, app, appKeys, added)
	writeJSON(w, http.StatusCreated, appKeyOut(created))
}

// rotateKeys adds a key version to app id, published now and signing after
// activateAfter, of algorithm to, or of the app's current one when to is
// "". Both are decided inside the key transaction, on the app as stored,
// so that a concurrent switch is neither undone nor repeated: with
// switching, an app already on to is left as it is (added is then the zero
// AppKey). An RS256 key is generated outside the transaction (it takes tens
// of milliseconds) and sealed inside it, once its kid is known; when the
// transaction finds it needs one it did not have, it runs again with one.
func (s *Server) rotateKeys(r *http.Request, id, to string, switching bool, after time.Duration) (domain.App, []domain.AppKey, domain.AppKey, error) {
	ctx := r.Context()
	var (
		app   domain.App
		added domain.AppKey
		priv  *rsa.PrivateKey
	)
	if to == session.RS256 {
		var err error
		if priv, err = keys.NewRSAKey(); err != nil {
			return app, nil, added, err
		}
	}
	now := s.now().UTC()
	for {
		appKeys, err := s.store.UpdateAppKeys(ctx, id, func(a domain.App, old []domain.AppKey) ([]domain.AppKey, error) {
			app, added = a, domain.AppKey{}
			alg := to
			if alg == "" {
				alg = a.SessionAlgorithm
			}
			if switching && alg == a.SessionAlgorithm {
				return old, nil
			}
			var material domain.AppKey
			if alg == session.RS256 {
				if priv == nil {
					return nil, errNeedRSAKey
				}
				var err error
				material, err = s.keys.RSAKeyMaterial(a.AUD, domain.KeyID(a.AUD, domain.NextKeyVersion(a, old)), priv)
				if err != nil {
					return nil, err
				}
			}
			out, nk := domain.RotateAppKeys(a, old, now, after, material)
			added = nk
			return out, nil
		})
		if errors.Is(err, errNeedRSAKey) {
			if priv, err = keys.NewRSAKey(); err != nil {
				return app, nil, added, err
			}
			continue
		}
		if err != nil {
			return app, nil, added, storageErr(err, "application "+strconv.Quote(id))
		}
		if added.Version != 0 {
			app.SessionAlgorithm, app.KeyVersion = added.Algorithm, added.Version
		}
		return app, appKeys, added, nil
	}
}

// errNeedRSAKey ends a key transaction that found the app on RS256 without
// a generated key at hand (another replica switched it meanwhile).
var errNeedRSAKey = errors.New("api: an RSA key is needed")

// auditRotation records the rotation that added key added and returns its
// status.
func (s *Server) auditRotation(r *http.Request, app domain.App, appKeys []domain.AppKey, added domain.AppKey) domain.KeyStatus {
	now := s.now().UTC()
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
	detail := added.Algorithm + " key " + created.KID + " published; signs from " + created.ActivatesAt.UTC().Format(time.RFC3339)
	if len(notes) > 0 {
		detail += "; " + strings.Join(notes, "; ")
	}
	s.audit(r.Context(), domain.AuditEvent{Time: now, Event: domain.EventAppKeyRotated, Actor: actor(r.Context()),
		AppID: app.ID, AppName: app.Name, RequestID: requestID(r.Context()), Detail: detail})
	s.logger(r.Context()).Info("application key rotated", "app_id", app.ID, "kid", created.KID, "alg", added.Algorithm, "activates_at", created.ActivatesAt)
	return created
}
