package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage"
)

// EnsureInitialAdminKey makes sure the storage has an admin key. When it
// has none, it stores the hash of adopt (a key read from a file, when it is
// not empty) or of a fresh key, under the name "initial", and returns that
// key with generated true when it is fresh. When admin keys exist it
// returns "" and does nothing; so it does when another replica stored the
// initial key between the check and the write (replicas starting together
// on an empty database: exactly one of them generates and prints the key).
func EnsureInitialAdminKey(ctx context.Context, store storage.Storage, kr *keys.Keyring, now time.Time, adopt string) (key string, generated bool, err error) {
	existing, err := store.ListAdminKeys(ctx)
	if err != nil {
		return "", false, err
	}
	if len(existing) > 0 {
		return "", false, nil
	}
	key, generated = adopt, false
	if key == "" {
		key, generated = keys.NewAdminKey(), true
	} else if !keys.ValidAdminKey(key) {
		return "", false, fmt.Errorf("admin key to adopt does not have the shape of a svcauth admin key (%s...)", keys.AdminKeyPrefix)
	}
	k := domain.AdminKey{ID: domain.NewID(), Name: domain.InitialAdminKeyName, Hash: kr.HashAdminKey(key), CreatedAt: now.UTC()}
	if err := store.CreateAdminKey(ctx, k); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			// Another replica starting at the same moment on the same
			// (PostgreSQL) database created it first, and prints it.
			return "", false, nil
		}
		return "", false, err
	}
	_, err = store.AppendAudit(ctx, domain.AuditEvent{Time: now.UTC(), Event: domain.EventAdminKeyAdded, Actor: domain.ActorSystem,
		Detail: "admin key " + strconv.Quote(k.Name) + " created at first start"})
	return key, generated, err
}

func adminKeyOut(k domain.AdminKey) apiv1.AdminKey {
	return apiv1.AdminKey{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt.UTC(), RevokedAt: utc(k.RevokedAt)}
}

func (s *Server) createAdminKey(w http.ResponseWriter, r *http.Request) {
	var req apiv1.CreateAdminKeyRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := domain.ValidateName("admin key", req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	key := keys.NewAdminKey()
	k := domain.AdminKey{ID: domain.NewID(), Name: req.Name, Hash: s.keys.HashAdminKey(key), CreatedAt: now}
	if err := s.store.CreateAdminKey(r.Context(), k); err != nil {
		s.fail(w, r, storageErr(err, "admin key named "+strconv.Quote(req.Name)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{Time: now, Event: domain.EventAdminKeyAdded, Actor: actor(r.Context()),
		RequestID: requestID(r.Context()), Detail: "admin key " + strconv.Quote(k.Name)})
	out := adminKeyOut(k)
	out.Key = key
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listAdminKeys(w http.ResponseWriter, r *http.Request) {
	all, err := s.store.ListAdminKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := apiv1.List[apiv1.AdminKey]{Items: make([]apiv1.AdminKey, 0, len(all))}
	for _, k := range all {
		out.Items = append(out.Items, adminKeyOut(k))
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeAdminKey is DELETE /v1/admin-keys/{id}. The last live key cannot be
// revoked: that would lock every operator out.
func (s *Server) revokeAdminKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	all, err := s.store.ListAdminKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	live := 0
	for _, k := range all {
		if k.RevokedAt == nil {
			live++
		}
	}
	now := s.now().UTC()
	k, err := s.store.UpdateAdminKey(r.Context(), id, func(k domain.AdminKey) (domain.AdminKey, error) {
		if k.RevokedAt != nil {
			return k, domain.Errorf(domain.EConflict, "admin key %q is already revoked", k.Name)
		}
		if live <= 1 {
			return k, domain.Errorf(domain.EConflict, "admin key %q is the last live admin key; create another first", k.Name)
		}
		k.RevokedAt = &now
		return k, nil
	})
	var de *domain.Error
	if errors.As(err, &de) {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		s.fail(w, r, storageErr(err, "admin key "+strconv.Quote(id)))
		return
	}
	s.audit(r.Context(), domain.AuditEvent{Time: now, Event: domain.EventAdminKeyRevoked, Actor: actor(r.Context()),
		RequestID: requestID(r.Context()), Detail: "admin key " + strconv.Quote(k.Name)})
	writeJSON(w, http.StatusOK, adminKeyOut(k))
}
