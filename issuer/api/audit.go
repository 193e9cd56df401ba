package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// listAudit is GET /v1/audit: newest first, filtered by token_id, app_id,
// event, since and until (RFC 3339), paged by limit and before (an event id).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := pageSize(q.Get("limit"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := storage.AuditFilter{TokenID: q.Get("token_id"), AppID: q.Get("app_id"), Event: q.Get("event"), Limit: limit + 1}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.fail(w, r, domain.Errorf(domain.EInvalid, "%s %q: want an RFC 3339 time such as 2030-01-02T15:04:05Z", name, v))
				return
			}
			*dst = t
		}
	}
	if v := q.Get("before"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			s.fail(w, r, domain.Errorf(domain.EInvalid, "before %q: want an event id", v))
			return
		}
		f.BeforeID = id
	}
	// Exchange events wait in memory for a batched write: write them first,
	// so the answer holds every exchange this server has answered.
	if err := s.FlushAudit(r.Context()); err != nil {
		s.logger(r.Context()).Warn("writing queued exchange audit events failed", "err", err)
	}
	events, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := apiv1.List[apiv1.AuditEvent]{Items: make([]apiv1.AuditEvent, 0, len(events))}
	if len(events) > limit {
		events = events[:limit]
		out.NextCursor = strconv.FormatInt(events[limit-1].ID, 10)
	}
	for _, e := range events {
		out.Items = append(out.Items, auditOut(e))
	}
	writeJSON(w, http.StatusOK, out)
}
