package api

import (
	"context"
	"net/http"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// healthz answers 200 while the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, apiv1.Health{Status: "ok"})
}

// readyz answers 200 when the storage answers, 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger(ctx).Warn("not ready: storage unreachable", "err", err)
		s.fail(w, r, domain.Errorf(domain.EUnavailable, "storage unreachable"))
		return
	}
	writeJSON(w, http.StatusOK, apiv1.Health{Status: "ready"})
}
