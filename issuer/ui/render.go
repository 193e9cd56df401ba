package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates/<name>.html files, each rendered inside
// templates/layout.html.
var pageNames = []string{
	"login", "error",
	"tokens", "token_new", "token", "token_delete", "secret", "secret_gone",
	"apps", "app_new", "app", "app_filter", "app_revoke", "app_delete", "policy_form", "policy_delete",
	"audit",
}

type pages struct {
	byName map[string]*template.Template
}

// parsePages parses every page with the layout, so that a template error
// stops the issuer at start.
func parsePages(a *assets) (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: parsing template %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("ui: template %s defines no content", name)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // the active navigation entry
	Actor   string // the signed-in admin key's name; "" when signed out
	CSRF    string
	Flash   *flash
	Error   string
	CSS, JS string
	Icon    string
	OneTime bool
	Data    any
}

func (h *Handler) view(r *http.Request, s sessionView, title, nav string) *view {
	v := &view{Title: title, Nav: nav, Actor: s.Actor, CSRF: s.CSRF, CSS: h.assets.url("app.css"), JS: h.assets.url("app.js"), Icon: h.assets.url("icon.svg")}
	if s.key != "" {
		f, err := h.sessions.takeFlash(r.Context(), s)
		if err != nil {
			// The page is still worth showing; the message stays stored
			// unless the failure came after its deletion.
			h.log.Warn("dashboard: the session store is unavailable; the page's message is not shown", "request_id", requestID(r), "err", err)
		}
		v.Flash = f
	}
	return v
}

// render writes page name with v; a template failure (a bug) answers 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := h.pages.byName[name]
	if !ok {
		panic("ui: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.log.Error("dashboard template failed", "request_id", requestID(r), "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	if hd.Get("Cache-Control") == "" {
		hd.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Heading string
	Message string
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	// The session only decides the page's header (who is signed in): a
	// store failure shows it signed out, with the error the page is about.
	s, _, _ := h.sessions.get(r.Context(), cookieValue(r, sessionCookie))
	h.renderErrorAs(w, r, s, status, heading, message)
}

func (h *Handler) renderErrorAs(w http.ResponseWriter, r *http.Request, s sessionView, status int, heading, message string) {
	v := h.view(r, s, heading, "")
	v.Data = errorData{Heading: heading, Message: message}
	h.render(w, r, status, "error", v)
}

// storeUnavailable answers 503 when the session store (the database)
// failed: the browser may well be signed in, so this is not a sign-out and
// the cookie stays. next says what happened to the request and what to do.
func (h *Handler) storeUnavailable(w http.ResponseWriter, r *http.Request, err error, next string) {
	h.log.Error("dashboard: the session store is unavailable", "request_id", requestID(r), "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "5")
	h.renderErrorAs(w, r, sessionView{}, http.StatusServiceUnavailable, "Session store unavailable",
		"The dashboard's session store is unavailable: the issuer cannot reach its database. "+next+
			" Details are in the issuer's log (request "+requestID(r)+").")
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, message string) {
	h.renderError(w, r, http.StatusForbidden, "Request refused", message)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, http.StatusNotFound, "Page not found", "There is no dashboard page at this address.")
}

// fail shows err on an error page: API errors with their message, others
// as an internal error (logged). A 401 from the API means the session's
// admin key was revoked: the session ends.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s sessionView, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusUnauthorized:
			h.endSession(w, r, s)
		case ae.Status == http.StatusNotFound:
			h.renderError(w, r, http.StatusNotFound, "Not found", ae.Message+" It may have been deleted.")
		default:
			h.renderError(w, r, ae.Status, "The issuer refused the request", ae.Message)
		}
		return
	}
	h.log.Error("dashboard error", "request_id", requestID(r), "path", r.URL.Path, "err", err)
	h.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "The dashboard hit an internal error. Details are in the issuer's log (request "+requestID(r)+").")
}

// formError returns the message to show next to a form for err, or "" when
// err must go to fail (not an API refusal of the input).
func formError(err error) string {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status != http.StatusUnauthorized && ae.Status < 500 {
		return ae.Message
	}
	return ""
}

// done ends a POST: the message is shown once on the page redirected to
// (POST-redirect-GET).
func (h *Handler) done(w http.ResponseWriter, r *http.Request, s sessionView, kind, message, target string) {
	if message != "" {
		if err := h.sessions.setFlash(r.Context(), s, kind, message); err != nil {
			// What the POST did is done; only its message is lost.
			h.log.Warn("dashboard: the session store is unavailable; an action's message is lost", "request_id", requestID(r), "err", err)
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// actionFailed ends a POST whose API call failed: refusals come back as a
// message on target, the rest go to fail.
func (h *Handler) actionFailed(w http.ResponseWriter, r *http.Request, s sessionView, err error, target string) {
	if msg := formError(err); msg != "" {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			h.fail(w, r, s, err)
			return
		}
		h.done(w, r, s, "error", msg, target)
		return
	}
	h.fail(w, r, s, err)
}

// assets are the embedded static files, served with long caching under a
// content-hash query so a new binary's files are fetched again.
type assets struct {
	files   fs.FS
	version map[string]string
}

func loadAssets() (*assets, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	a := &assets{files: sub, version: map[string]string{}}
	for _, name := range []string{"app.css", "app.js", "icon.svg"} {
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return nil, fmt.Errorf("ui: static asset %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		a.version[name] = hex.EncodeToString(sum[:6])
	}
	return a, nil
}

func (a *assets) url(name string) string {
	return "/ui/static/" + name + "?v=" + a.version[name]
}

func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/ui/static/")
	if _, ok := a.version[name]; !ok {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(a.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	if r.URL.Query().Get("v") == a.version[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(b)
}

// Template helpers.
var templateFuncs = template.FuncMap{
	"datetime": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return fmtTime(v)
		case *time.Time:
			if v == nil {
				return ""
			}
			return fmtTime(*v)
		}
		return ""
	},
	"isoTime": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format(time.RFC3339)
		case *time.Time:
			if v != nil {
				return v.UTC().Format(time.RFC3339)
			}
		}
		return ""
	},
	"datetimeSec":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"duration":      humanDuration,
	"statusLabel":   statusLabel,
	"decisionLabel": decisionLabel,
	"join":          strings.Join,
	"inc":           func(i int) int { return i + 1 },
	"itoa":          strconv.Itoa,
	"contains": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"ruleset": func(field, legend, help string, chosen []string, tokens []apiv1.Token) ruleSet {
		return ruleSet{Field: field, Legend: legend, Help: help, Chosen: chosen, Tokens: tokens}
	},
	"shortID": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
}

// ruleSet is one rule picker of the policy form (include or exclude).
type ruleSet struct {
	Field, Legend, Help string
	Chosen              []string
	Tokens              []apiv1.Token
}

func fmtTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// humanDuration names a token duration ("8760h" → "1 year (8760h)").
func humanDuration(d string) string {
	if d == "forever" {
		return "Non-expiring"
	}
	for _, o := range tokenDurations {
		if o.Value == d {
			return o.Label + " (" + d + ")"
		}
	}
	return d
}

func statusLabel(status string) string {
	switch status {
	case "active":
		return "Active"
	case "expiring":
		return "Expiring soon"
	case "expired":
		return "Expired"
	case "disabled":
		return "Disabled"
	}
	return status
}

// decisions lists policy decisions as the forms offer them.
var decisions = []struct{ Value, Label, Help string }{
	{"non_identity", "Service Auth", "Admits the service tokens its rules match (no user identity)."},
	{"bypass", "Bypass", "Lets matching requests through without authentication."},
	{"allow", "Allow", "Needs a user identity: never admits a service token."},
	{"deny", "Block", "Refuses matching requests."},
}

func decisionLabel(d string) string {
	for _, x := range decisions {
		if x.Value == d {
			return x.Label
		}
	}
	return d
}

// ruleView is one policy rule as pages show it.
type ruleView struct {
	Label   string
	TokenID string // set for service-token rules
}

func rulesView(rules []apiv1.Rule, names map[string]string) []ruleView {
	out := make([]ruleView, 0, len(rules))
	for _, r := range rules {
		switch {
		case r.ServiceToken != nil:
			name, ok := names[r.ServiceToken.TokenID]
			if !ok {
				name = "unknown token " + r.ServiceToken.TokenID
			}
			out = append(out, ruleView{Label: name, TokenID: r.ServiceToken.TokenID})
		case r.AnyValidServiceToken != nil:
			out = append(out, ruleView{Label: "Any valid service token"})
		case r.Everyone != nil:
			out = append(out, ruleView{Label: "Everyone"})
		}
	}
	return out
}
