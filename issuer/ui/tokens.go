package ui

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

// option is one choice of a select.
type option struct{ Value, Label string }

// tokenDurations are the lifetimes offered when creating a token.
var tokenDurations = []option{
	{"8760h", "1 year"},
	{"4380h", "6 months"},
	{"2160h", "90 days"},
	{"720h", "30 days"},
	{"168h", "7 days"},
	{"24h", "24 hours"},
	{"forever", "Non-expiring"},
	{"custom", "Custom…"},
}

const defaultTokenDuration = "8760h"

// graceOptions are the choices for the old secret when rotating.
var graceOptions = []option{
	{"", "Revoke the old secret now"},
	{"1h", "Keep the old secret working for 1 hour"},
	{"24h", "Keep it working for 24 hours"},
	{"168h", "Keep it working for 7 days"},
	{"720h", "Keep it working for 30 days"},
}

type tokenRow struct {
	apiv1.Token
	ExpiresIn string
	LastSeen  string
}

type tokensData struct {
	Query  string
	Rows   []tokenRow
	Total  int
	Counts map[string]int
}

func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	tokens, err := h.listTokens(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	now := h.now()
	d := tokensData{Query: q, Total: len(tokens), Counts: map[string]int{}}
	for _, t := range tokens {
		d.Counts[t.Status]++
		if q != "" && !strings.Contains(strings.ToLower(t.Name), strings.ToLower(q)) {
			continue
		}
		d.Rows = append(d.Rows, tokenRow{Token: t, ExpiresIn: relative(t.ExpiresAt, now), LastSeen: relative(t.LastSeenAt, now)})
	}
	v := h.view(r, s, "Service tokens", "tokens")
	v.Data = d
	h.render(w, r, http.StatusOK, "tokens", v)
}

type newTokenData struct {
	Name      string
	Duration  string
	Custom    string
	Durations []option
}

func (h *Handler) newTokenPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.renderNewToken(w, r, s, http.StatusOK, newTokenData{Duration: defaultTokenDuration}, "")
}

func (h *Handler) renderNewToken(w http.ResponseWriter, r *http.Request, s sessionView, status int, d newTokenData, errMsg string) {
	d.Durations = tokenDurations
	v := h.view(r, s, "Create a service token", "tokens")
	v.Error = errMsg
	v.Data = d
	h.render(w, r, status, "token_new", v)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, s sessionView) {
	d := newTokenData{
		Name:     strings.TrimSpace(r.PostForm.Get("name")),
		Duration: r.PostForm.Get("duration"),
		Custom:   strings.TrimSpace(r.PostForm.Get("custom_duration")),
	}
	duration := d.Duration
	switch {
	case duration == "custom" && d.Custom == "":
		h.renderNewToken(w, r, s, http.StatusBadRequest, d, "Enter a custom duration, such as 36h or 45m, or pick a preset.")
		return
	case duration == "custom":
		duration = d.Custom
	case !slices.ContainsFunc(tokenDurations, func(o option) bool { return o.Value == duration }):
		h.renderNewToken(w, r, s, http.StatusBadRequest, d, "Pick a duration.")
		return
	}
	var t apiv1.Token
	if err := h.call(r, s, http.MethodPost, "/v1/service-tokens", nil, apiv1.CreateTokenRequest{Name: d.Name, Duration: duration}, &t); err != nil {
		if msg := formError(err); msg != "" {
			h.renderNewToken(w, r, s, http.StatusBadRequest, d, msg)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	h.showSecretOnce(w, r, s, oneTime{TokenID: t.ID, TokenName: t.Name, ClientID: t.ClientID, ClientSecret: t.ClientSecret})
}

// showSecretOnce parks a new secret in the session and redirects to the
// page that shows it once (POST-redirect-GET: the secret is never in a URL
// and a reload of the page cannot show it again).
func (h *Handler) showSecretOnce(w http.ResponseWriter, r *http.Request, s sessionView, o oneTime) {
	slot, err := h.sessions.putSecret(r.Context(), s, o)
	if err != nil {
		what := "created"
		if o.Rotated {
			what = "rotated"
		}
		h.log.Error("dashboard: the session store is unavailable; a new secret could not be kept for its page", "request_id", requestID(r), "token_id", o.TokenID, "err", err)
		w.Header().Set("Retry-After", "5")
		h.renderErrorAs(w, r, s, http.StatusServiceUnavailable, "Session store unavailable",
			"The token "+o.TokenName+" was "+what+", but its new secret could not be kept for showing: the dashboard's session store is unavailable. "+
				"Once it is back, rotate the token's secret to get a new one. Details are in the issuer's log (request "+requestID(r)+").")
		return
	}
	if slot == "" {
		h.renderError(w, r, http.StatusConflict, "Session ended", "Your session ended before the new secret could be shown. Sign in again and rotate the token "+o.TokenName+" to get a new secret.")
		return
	}
	http.Redirect(w, r, "/ui/secret/"+slot, http.StatusSeeOther)
}

type secretData struct {
	oneTime
	ExampleURL string
}

func (h *Handler) secretPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store, max-age=0")
	hd.Set("Pragma", "no-cache")
	hd.Set("Expires", "0")
	o, ok, err := h.sessions.takeSecret(r.Context(), s, r.PathValue("slot"))
	if err != nil {
		h.storeUnavailable(w, r, err, "The secret could not be fetched; reload this page in a moment. If it says the secret was already shown, rotate the token's secret.")
		return
	}
	if !ok {
		v := h.view(r, s, "Secret already shown", "tokens")
		h.render(w, r, http.StatusGone, "secret_gone", v)
		return
	}
	title := "Service token created"
	if o.Rotated {
		title = "Client secret rotated"
	}
	v := h.view(r, s, title, "tokens")
	v.OneTime = true
	d := secretData{oneTime: o, ExampleURL: "https://app.example.com/"}
	if apps, err := h.listApps(r, s); err == nil && len(apps) > 0 && len(apps[0].Domains) > 0 {
		d.ExampleURL = "https://" + strings.TrimPrefix(apps[0].Domains[0], "*.") + "/"
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "secret", v)
}

type tokenData struct {
	Token         apiv1.Token
	ExpiresIn     string
	LastSeen      string
	Policies      []policyRef
	GraceOptions  []option
	PreviousUntil string
}

func (h *Handler) tokenPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	t, refs, err := h.tokenWithReferences(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	now := h.now()
	v := h.view(r, s, "Service token "+t.Name, "tokens")
	v.Data = tokenData{Token: t, ExpiresIn: relative(t.ExpiresAt, now), LastSeen: relative(t.LastSeenAt, now), Policies: refs,
		GraceOptions: graceOptions, PreviousUntil: relative(t.PreviousSecretExpiresAt, now)}
	h.render(w, r, http.StatusOK, "token", v)
}

func tokenURL(id string) string { return "/ui/tokens/" + esc(id) }

func (h *Handler) renameToken(w http.ResponseWriter, r *http.Request, s sessionView) {
	id := r.PathValue("id")
	name := strings.TrimSpace(r.PostForm.Get("name"))
	var t apiv1.Token
	if err := h.call(r, s, http.MethodPatch, "/v1/service-tokens/"+esc(id), nil, apiv1.UpdateTokenRequest{Name: &name}, &t); err != nil {
		h.actionFailed(w, r, s, err, tokenURL(id))
		return
	}
	h.done(w, r, s, "success", "Renamed to "+t.Name+".", tokenURL(id))
}

func (h *Handler) refreshToken(w http.ResponseWriter, r *http.Request, s sessionView) {
	id := r.PathValue("id")
	var t apiv1.Token
	if err := h.call(r, s, http.MethodPost, "/v1/service-tokens/"+esc(id)+"/refresh", nil, nil, &t); err != nil {
		h.actionFailed(w, r, s, err, tokenURL(id))
		return
	}
	msg := "Refreshed " + t.Name + ": it never expires."
	if t.ExpiresAt != nil {
		msg = "Refreshed " + t.Name + ": it now expires " + fmtTime(*t.ExpiresAt) + "."
	}
	h.done(w, r, s, "success", msg, tokenURL(id))
}

func (h *Handler) rotateToken(w http.ResponseWriter, r *http.Request, s sessionView) {
	id := r.PathValue("id")
	grace := r.PostForm.Get("grace")
	if !slices.ContainsFunc(graceOptions, func(o option) bool { return o.Value == grace }) {
		h.done(w, r, s, "error", "Pick what happens to the old secret.", tokenURL(id))
		return
	}
	var t apiv1.Token
	if err := h.call(r, s, http.MethodPost, "/v1/service-tokens/"+esc(id)+"/rotate", nil, apiv1.RotateTokenRequest{Grace: grace}, &t); err != nil {
		h.actionFailed(w, r, s, err, tokenURL(id))
		return
	}
	h.showSecretOnce(w, r, s, oneTime{TokenID: t.ID, TokenName: t.Name, ClientID: t.ClientID, ClientSecret: t.ClientSecret,
		Rotated: true, PreviousUntil: t.PreviousSecretExpiresAt})
}

func (h *Handler) enableToken(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.setEnabled(w, r, s, true)
}

func (h *Handler) disableToken(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.setEnabled(w, r, s, false)
}

func (h *Handler) setEnabled(w http.ResponseWriter, r *http.Request, s sessionView, enabled bool) {
	id := r.PathValue("id")
	var t apiv1.Token
	if err := h.call(r, s, http.MethodPatch, "/v1/service-tokens/"+esc(id), nil, apiv1.UpdateTokenRequest{Enabled: &enabled}, &t); err != nil {
		h.actionFailed(w, r, s, err, tokenURL(id))
		return
	}
	msg := "Disabled " + t.Name + ": its secret can no longer be exchanged for sessions."
	if enabled {
		msg = "Enabled " + t.Name + "."
	}
	h.done(w, r, s, "success", msg, tokenURL(id))
}

type deleteTokenData struct {
	Token    apiv1.Token
	Policies []policyRef
	// Confirmed lists the ids of the policies the page named, so that the
	// deletion stops if that list changed in between.
	Confirmed string
	Changed   bool
}

func policyIDs(refs []policyRef) string {
	ids := make([]string, 0, len(refs))
	for _, ref := range refs {
		ids = append(ids, ref.Policy.ID)
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

func (h *Handler) deleteTokenPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.renderDeleteToken(w, r, s, false)
}

func (h *Handler) renderDeleteToken(w http.ResponseWriter, r *http.Request, s sessionView, changed bool) {
	t, refs, err := h.tokenWithReferences(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v := h.view(r, s, "Delete service token "+t.Name, "tokens")
	v.Data = deleteTokenData{Token: t, Policies: refs, Confirmed: policyIDs(refs), Changed: changed}
	status := http.StatusOK
	if changed {
		status = http.StatusConflict
	}
	h.render(w, r, status, "token_delete", v)
}

func (h *Handler) deleteToken(w http.ResponseWriter, r *http.Request, s sessionView) {
	id := r.PathValue("id")
	t, err := h.getToken(r, s, id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	refs, err := h.policiesNaming(r, s, id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if policyIDs(refs) != r.PostForm.Get("policies") {
		h.renderDeleteToken(w, r, s, true)
		return
	}
	q := url.Values{}
	if len(refs) > 0 {
		q.Set("force", "true")
	}
	if err := h.call(r, s, http.MethodDelete, "/v1/service-tokens/"+esc(id), q, nil, nil); err != nil {
		h.actionFailed(w, r, s, err, tokenURL(id))
		return
	}
	msg := "Deleted the service token " + t.Name + "."
	if len(refs) > 0 {
		msg = fmt.Sprintf("Deleted the service token %s and removed it from %d %s.", t.Name, len(refs), plural(len(refs), "policy", "policies"))
	}
	h.done(w, r, s, "success", msg, "/ui/tokens")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// relative describes t relative to now ("in 3 days", "5 minutes ago"); ""
// for nil.
func relative(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = count(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = count(int(d/time.Hour), "hour")
	case d < 60*24*time.Hour:
		s = count(int(d/(24*time.Hour)), "day")
	case d < 360*24*time.Hour:
		s = count(int(d/(30*24*time.Hour)), "month")
	default:
		s = count(max(1, int(math.Round(d.Hours()/(365*24)))), "year")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// tokenWithReferences is the token of the request's path and the policies
// that name it, which its page and its delete confirmation both show.
func (h *Handler) tokenWithReferences(r *http.Request, s sessionView) (apiv1.Token, []policyRef, error) {
	t, err := h.getToken(r, s, r.PathValue("id"))
	if err != nil {
		return apiv1.Token{}, nil, err
	}
	refs, err := h.policiesNaming(r, s, t.ID)
	return t, refs, err
}
