package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

const auditPageSize = 50

// auditEvents are the event names the filter offers.
var auditEvents = []string{
	domain.EventSessionIssued, domain.EventSessionDenied, domain.EventSessionsRevoke,
	domain.EventTokenCreated, domain.EventTokenUpdated, domain.EventTokenRefreshed, domain.EventTokenRotated, domain.EventTokenDeleted,
	domain.EventAppCreated, domain.EventAppUpdated, domain.EventAppDeleted,
	domain.EventPolicyCreated, domain.EventPolicyUpdated, domain.EventPolicyDeleted,
	domain.EventAdminKeyAdded, domain.EventAdminKeyRevoked,
}

// datetimeLocal is the value format of <input type="datetime-local">; the
// page reads and writes it as UTC.
const datetimeLocal = "2006-01-02T15:04"

type auditFilter struct {
	Token, App, Event, Since, Until string
}

type auditData struct {
	Filter       auditFilter
	Filtered     bool
	Tokens       []apiv1.Token
	Apps         []apiv1.App
	Events       []string
	Rows         []apiv1.AuditEvent
	Older        string
	Newest       string
	UnknownToken bool
	UnknownApp   bool
}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	q := r.URL.Query()
	f := auditFilter{
		Token: strings.TrimSpace(q.Get("token")), App: strings.TrimSpace(q.Get("app")), Event: strings.TrimSpace(q.Get("event")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")),
	}
	d := auditData{Filter: f, Events: auditEvents, Filtered: f != auditFilter{}}
	v := h.view(r, s, "Audit log", "audit")
	var err error
	if d.Tokens, err = h.listTokens(r, s); err != nil {
		h.fail(w, r, s, err)
		return
	}
	if d.Apps, err = h.listApps(r, s); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.UnknownToken = f.Token != "" && !hasToken(d.Tokens, f.Token)
	d.UnknownApp = f.App != "" && !hasApp(d.Apps, f.App)

	api := url.Values{"limit": {strconv.Itoa(auditPageSize)}}
	keep := url.Values{}
	for name, val := range map[string]string{"token": f.Token, "app": f.App, "event": f.Event, "since": f.Since, "until": f.Until} {
		if val != "" {
			keep.Set(name, val)
		}
	}
	if f.Token != "" {
		api.Set("token_id", f.Token)
	}
	if f.App != "" {
		api.Set("app_id", f.App)
	}
	if f.Event != "" {
		api.Set("event", f.Event)
	}
	for name, val := range map[string]string{"since": f.Since, "until": f.Until} {
		if val == "" {
			continue
		}
		t, err := time.ParseInLocation(datetimeLocal, val, time.UTC)
		if err != nil {
			v.Error = "The " + name + " time must look like 2030-01-02T15:04 (UTC)."
			v.Data = d
			h.render(w, r, http.StatusBadRequest, "audit", v)
			return
		}
		api.Set(name, t.Format(time.RFC3339))
	}
	if b := q.Get("before"); b != "" {
		api.Set("before", b)
		d.Newest = "/ui/audit"
		if len(keep) > 0 {
			d.Newest += "?" + keep.Encode()
		}
	}
	var page apiv1.List[apiv1.AuditEvent]
	if err := h.call(r, s, http.MethodGet, "/v1/audit", api, nil, &page); err != nil {
		if msg := formError(err); msg != "" {
			v.Error = msg
			v.Data = d
			h.render(w, r, http.StatusBadRequest, "audit", v)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	d.Rows = page.Items
	if page.NextCursor != "" {
		keep.Set("before", page.NextCursor)
		d.Older = "/ui/audit?" + keep.Encode()
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "audit", v)
}

func hasToken(ts []apiv1.Token, id string) bool {
	for _, t := range ts {
		if t.ID == id {
			return true
		}
	}
	return false
}

func hasApp(as []apiv1.App, id string) bool {
	for _, a := range as {
		if a.ID == id {
			return true
		}
	}
	return false
}
