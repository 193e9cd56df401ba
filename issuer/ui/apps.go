package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// sessionDurations are the session lifetimes offered for applications.
var sessionDurations = []option{
	{"15m", "15 minutes"},
	{"1h", "1 hour"},
	{"6h", "6 hours"},
	{"12h", "12 hours"},
	{"24h", "24 hours"},
	{"168h", "1 week"},
	{"730h", "1 month"},
	{"custom", "Custom…"},
}

const defaultSessionDuration = "24h"

// sessionAlgorithms are the signing algorithms offered for applications.
var sessionAlgorithms = []option{
	{"HS256", "HS256: shared key, checked in the filter (fastest)"},
	{"RS256", "RS256: origins verify the assertion with the certs endpoint, as with Cloudflare"},
}

func appURL(id string) string { return "/ui/apps/" + esc(id) }

type appRow struct {
	App      apiv1.App
	Policies int
}

func (h *Handler) appsPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	apps, err := h.listApps(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	rows := make([]appRow, 0, len(apps))
	for _, a := range apps {
		ps, err := h.listPolicies(r, s, a.ID)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		rows = append(rows, appRow{App: a, Policies: len(ps)})
	}
	v := h.view(r, s, "Applications", "apps")
	v.Data = rows
	h.render(w, r, http.StatusOK, "apps", v)
}

// appForm is the create and edit form of an application.
type appForm struct {
	Name       string
	Domains    string // one per line
	Session    string // a preset value or "custom"
	Custom     string
	Durations  []option
	Algorithm  string // HS256 or RS256
	Algorithms []option
	// ActivateAfter is when a switch's new key signs (the API's default).
	ActivateAfter string
}

func (f *appForm) fill(r *http.Request) {
	f.Name = strings.TrimSpace(r.PostForm.Get("name"))
	f.Domains = r.PostForm.Get("domains")
	f.Session = r.PostForm.Get("session_duration")
	f.Custom = strings.TrimSpace(r.PostForm.Get("custom_session_duration"))
	f.Algorithm = r.PostForm.Get("session_algorithm")
}

// sessionAlgorithm returns the chosen algorithm ("" when the form has no
// choice: HS256 on create, unchanged on edit), or a message for the user.
func (f *appForm) sessionAlgorithm() (string, string) {
	if f.Algorithm == "" {
		return "", ""
	}
	if !slices.ContainsFunc(sessionAlgorithms, func(o option) bool { return o.Value == f.Algorithm }) {
		return "", "Pick a session algorithm: HS256 or RS256."
	}
	return f.Algorithm, ""
}

// check returns the form's session duration and algorithm, or a message.
func (f *appForm) check() (session, alg, msg string) {
	if session, msg = f.sessionDuration(); msg != "" {
		return "", "", msg
	}
	alg, msg = f.sessionAlgorithm()
	return session, alg, msg
}

// sessionDuration returns the chosen duration, or a message for the user.
func (f *appForm) sessionDuration() (string, string) {
	switch {
	case f.Session == "custom" && f.Custom == "":
		return "", "Enter a custom session duration, such as 90m or 48h, or pick a preset."
	case f.Session == "custom":
		return f.Custom, ""
	case !slices.ContainsFunc(sessionDurations, func(o option) bool { return o.Value == f.Session }):
		return "", "Pick a session duration."
	}
	return f.Session, ""
}

// splitDomains reads one domain per line (commas work too).
func splitDomains(s string) []string {
	out := []string{}
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if d := strings.TrimSpace(line); d != "" {
			out = append(out, d)
		}
	}
	return out
}

func formForSession(d string) (session, custom string) {
	if slices.ContainsFunc(sessionDurations, func(o option) bool { return o.Value == d && o.Value != "custom" }) {
		return d, ""
	}
	return "custom", d
}

func (h *Handler) newAppPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.renderNewApp(w, r, s, http.StatusOK, appForm{Session: defaultSessionDuration, Algorithm: "HS256"}, "")
}

func (h *Handler) renderNewApp(w http.ResponseWriter, r *http.Request, s sessionView, status int, f appForm, errMsg string) {
	f.Durations, f.Algorithms, f.ActivateAfter = sessionDurations, sessionAlgorithms, domain.FormatDuration(domain.DefaultKeyActivateAfter)
	v := h.view(r, s, "Add an application", "apps")
	v.Error = errMsg
	v.Data = f
	h.render(w, r, status, "app_new", v)
}

func (h *Handler) createApp(w http.ResponseWriter, r *http.Request, s sessionView) {
	var f appForm
	f.fill(r)
	session, alg, msg := f.check()
	if msg != "" {
		h.renderNewApp(w, r, s, http.StatusBadRequest, f, msg)
		return
	}
	var a apiv1.App
	req := apiv1.CreateAppRequest{Name: f.Name, Domains: splitDomains(f.Domains), SessionDuration: session, SessionAlgorithm: alg}
	if err := h.call(r, s, http.MethodPost, "/v1/apps", nil, req, &a); err != nil {
		if msg := formError(err); msg != "" {
			h.renderNewApp(w, r, s, http.StatusBadRequest, f, msg)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	h.done(w, r, s, "success", "Added the application "+a.Name+". Add a policy so that service tokens can reach it.", appURL(a.ID))
}

type policyRow struct {
	Policy  apiv1.Policy
	Include []ruleView
	Exclude []ruleView
	First   bool
	Last    bool
}

type appData struct {
	App      apiv1.App
	Policies []policyRow
	Form     appForm
	FormErr  string
}

func (h *Handler) appPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.renderApp(w, r, s, http.StatusOK, nil, "")
}

// renderApp shows the application; form, when not nil, is the edit form as
// submitted (with formErr).
func (h *Handler) renderApp(w http.ResponseWriter, r *http.Request, s sessionView, status int, form *appForm, formErr string) {
	a, ps, err := h.appWithPolicies(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	names, err := h.tokenNames(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := appData{App: a, FormErr: formErr}
	for i, p := range ps {
		d.Policies = append(d.Policies, policyRow{Policy: p, Include: rulesView(p.Include, names), Exclude: rulesView(p.Exclude, names),
			First: i == 0, Last: i == len(ps)-1})
	}
	if form != nil {
		d.Form = *form
	} else {
		d.Form = appForm{Name: a.Name, Domains: strings.Join(a.Domains, "\n"), Algorithm: a.SessionAlgorithm}
		d.Form.Session, d.Form.Custom = formForSession(a.SessionDuration)
	}
	d.Form.Durations, d.Form.Algorithms, d.Form.ActivateAfter = sessionDurations, sessionAlgorithms, domain.FormatDuration(domain.DefaultKeyActivateAfter)
	v := h.view(r, s, "Application "+a.Name, "apps")
	v.Data = d
	h.render(w, r, status, "app", v)
}

func (h *Handler) tokenNames(r *http.Request, s sessionView) (map[string]string, error) {
	tokens, err := h.listTokens(r, s)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(tokens))
	for _, t := range tokens {
		names[t.ID] = t.Name
	}
	return names, nil
}

func (h *Handler) updateApp(w http.ResponseWriter, r *http.Request, s sessionView) {
	id := r.PathValue("id")
	var f appForm
	f.fill(r)
	session, alg, msg := f.check()
	if msg != "" {
		h.renderApp(w, r, s, http.StatusBadRequest, &f, msg)
		return
	}
	a, err := h.getApp(r, s, id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	var req apiv1.UpdateAppRequest
	if f.Name != a.Name {
		req.Name = &f.Name
	}
	if domains := splitDomains(f.Domains); !slices.Equal(domains, a.Domains) {
		req.Domains = &domains
	}
	if session != a.SessionDuration {
		req.SessionDuration = &session
	}
	if alg != "" && alg != a.SessionAlgorithm {
		if a.SessionAlgorithm == "RS256" {
			// Filters of an RS256 app may hold no HS256 key, and cannot
			// learn one by sync (it is a secret): their new configuration
			// must be out before the new key signs, which needs an
			// activation the operator sizes, not the form's default.
			h.renderApp(w, r, s, http.StatusBadRequest, &f, "Switch an RS256 application back to HS256 with the CLI, giving the new key time to reach the filters: "+
				"svcauth apps update "+id+" --session-algorithm HS256 --activate-after <time to roll out the new svcauth filter-config>.")
			return
		}
		// A rotation to a key of the other kind, signing after the
		// default activation delay.
		req.SessionAlgorithm = &alg
	}
	if req.Name == nil && req.Domains == nil && req.SessionDuration == nil && req.SessionAlgorithm == nil {
		h.done(w, r, s, "success", "Nothing to change.", appURL(id))
		return
	}
	if err := h.call(r, s, http.MethodPatch, "/v1/apps/"+esc(id), nil, req, &a); err != nil {
		if msg := formError(err); msg != "" && apiStatus(err) != http.StatusNotFound {
			h.renderApp(w, r, s, http.StatusBadRequest, &f, msg)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	h.done(w, r, s, "success", "Saved the settings of "+a.Name+".", appURL(id))
}

// apiStatus is the HTTP status of an API error, or 0.
func apiStatus(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

type filterData struct {
	App       apiv1.App
	Cluster   string
	Authority string
	JSON      string
	// Istio is the WasmPlugin YAML; IstioErr says why there is none.
	Istio          string
	IstioErr       string
	IstioAuthority string
	HasIstio       bool
}

func (h *Handler) filterConfigPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	a, err := h.getApp(r, s, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	q := r.URL.Query()
	d := filterData{App: a, Cluster: strings.TrimSpace(q.Get("cluster")), Authority: strings.TrimSpace(q.Get("authority"))}
	if d.Cluster == "" {
		d.Cluster = "svcauth-issuer"
	}
	if d.Authority == "" {
		d.Authority = "svcauth-issuer"
	}
	v := h.view(r, s, "Filter configuration of "+a.Name, "apps")
	var raw json.RawMessage
	err = h.call(r, s, http.MethodGet, "/v1/apps/"+esc(a.ID)+"/filter-config", url.Values{"cluster": {d.Cluster}, "authority": {d.Authority}}, nil, &raw)
	if err != nil {
		if msg := formError(err); msg != "" && apiStatus(err) != http.StatusNotFound {
			v.Error = msg
		} else {
			h.fail(w, r, s, err)
			return
		}
	} else {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.JSON = buf.String()
	}
	if h.istio != nil {
		d.HasIstio, d.IstioAuthority = true, h.istio.Authority
		d.Istio, d.IstioErr = h.istioPlugin(r, s, a)
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "app_filter", v)
}

// istioPlugin renders the app's WasmPlugin with the filter configuration
// for the issuer as Istio names it.
func (h *Handler) istioPlugin(r *http.Request, s sessionView, a apiv1.App) (string, string) {
	var raw json.RawMessage
	q := url.Values{"cluster": {h.istio.Cluster}, "authority": {h.istio.Authority}}
	if err := h.call(r, s, http.MethodGet, "/v1/apps/"+esc(a.ID)+"/filter-config", q, nil, &raw); err != nil {
		return "", err.Error()
	}
	out, err := h.istio.Render(a, raw)
	if err != nil {
		return "", sentence(err.Error())
	}
	return string(out), ""
}

type appConfirmData struct {
	App      apiv1.App
	Policies int
}

func (h *Handler) appConfirm(w http.ResponseWriter, r *http.Request, s sessionView, page, title string) {
	a, ps, err := h.appWithPolicies(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v := h.view(r, s, title+" "+a.Name, "apps")
	v.Data = appConfirmData{App: a, Policies: len(ps)}
	h.render(w, r, http.StatusOK, page, v)
}

func (h *Handler) revokeSessionsPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.appConfirm(w, r, s, "app_revoke", "Revoke the sessions of")
}

func (h *Handler) revokeSessions(w http.ResponseWriter, r *http.Request, s sessionView) {
	id := r.PathValue("id")
	var a apiv1.App
	if err := h.call(r, s, http.MethodPost, "/v1/apps/"+esc(id)+"/revoke-sessions", nil, nil, &a); err != nil {
		h.actionFailed(w, r, s, err, appURL(id))
		return
	}
	msg := "Revoked the existing sessions of " + a.Name + "."
	if a.SessionsNotBefore != nil {
		msg = "Revoked the sessions of " + a.Name + " issued before " + fmtTime(*a.SessionsNotBefore) + "."
	}
	h.done(w, r, s, "success", msg, appURL(id))
}

func (h *Handler) deleteAppPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.appConfirm(w, r, s, "app_delete", "Delete")
}

func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request, s sessionView) {
	id := r.PathValue("id")
	a, err := h.getApp(r, s, id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if err := h.call(r, s, http.MethodDelete, "/v1/apps/"+esc(id), nil, nil, nil); err != nil {
		h.actionFailed(w, r, s, err, appURL(id))
		return
	}
	h.done(w, r, s, "success", "Deleted the application "+a.Name+" and its policies.", "/ui/apps")
}

// appWithPolicies is the application of the request's path and its
// policies, which its page and its confirmation pages all show.
func (h *Handler) appWithPolicies(r *http.Request, s sessionView) (apiv1.App, []apiv1.Policy, error) {
	a, err := h.getApp(r, s, r.PathValue("id"))
	if err != nil {
		return apiv1.App{}, nil, err
	}
	ps, err := h.listPolicies(r, s, a.ID)
	return a, ps, err
}
