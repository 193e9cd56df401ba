package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

// apiError is an error answer of the API: its status and the API's own
// message, which is written for people and never holds a secret.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

// recorder collects the API handler's answer in memory.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

// call runs one API request in-process as the session's admin key: the
// API authenticates the key, validates, stores and audits (actor = the
// key's name) exactly as for the CLI. in, when not nil, is sent as JSON;
// out, when not nil, receives the JSON answer.
func (h *Handler) call(r *http.Request, s sessionView, method, path string, query url.Values, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(r.Context(), method, target, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.adminKey)
	req.Header.Set("X-Request-Id", requestID(r))
	req.Header.Set("User-Agent", "svcauth-dashboard")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	rec := &recorder{header: http.Header{}}
	h.api.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.code >= 400 {
		var e apiv1.Error
		if err := json.Unmarshal(rec.body.Bytes(), &e); err != nil || e.Error == "" {
			return &apiError{Status: rec.code, Code: "internal", Message: fmt.Sprintf("the issuer answered %d", rec.code)}
		}
		msg := e.Message
		if msg == "" || e.Error == "internal" {
			msg = "The issuer hit an internal error; details are in its log (request " + requestID(r) + ")."
		}
		return &apiError{Status: rec.code, Code: e.Error, Message: sentence(msg)}
	}
	if out != nil && rec.code != http.StatusNoContent {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("decoding the answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	if c := msg[0]; c >= 'a' && c <= 'z' {
		msg = string(c-'a'+'A') + msg[1:]
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func esc(id string) string { return url.PathEscape(id) }

// listTokens returns every token, following the API's pages.
func (h *Handler) listTokens(r *http.Request, s sessionView) ([]apiv1.Token, error) {
	var all []apiv1.Token
	after := ""
	for {
		q := url.Values{"limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		var page apiv1.List[apiv1.Token]
		if err := h.call(r, s, http.MethodGet, "/v1/service-tokens", q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" || len(page.Items) == 0 {
			return all, nil
		}
		after = page.NextCursor
	}
}

func (h *Handler) getToken(r *http.Request, s sessionView, id string) (apiv1.Token, error) {
	var t apiv1.Token
	err := h.call(r, s, http.MethodGet, "/v1/service-tokens/"+esc(id), nil, nil, &t)
	return t, err
}

func (h *Handler) listApps(r *http.Request, s sessionView) ([]apiv1.App, error) {
	var page apiv1.List[apiv1.App]
	err := h.call(r, s, http.MethodGet, "/v1/apps", nil, nil, &page)
	return page.Items, err
}

func (h *Handler) getApp(r *http.Request, s sessionView, id string) (apiv1.App, error) {
	var a apiv1.App
	err := h.call(r, s, http.MethodGet, "/v1/apps/"+esc(id), nil, nil, &a)
	return a, err
}

func (h *Handler) listPolicies(r *http.Request, s sessionView, appID string) ([]apiv1.Policy, error) {
	var page apiv1.List[apiv1.Policy]
	err := h.call(r, s, http.MethodGet, "/v1/apps/"+esc(appID)+"/policies", nil, nil, &page)
	return page.Items, err
}

// policyRef is a policy that names a token, with its app.
type policyRef struct {
	App    apiv1.App
	Policy apiv1.Policy
}

// policiesNaming returns the policies (of every app) whose rules name the
// token.
func (h *Handler) policiesNaming(r *http.Request, s sessionView, tokenID string) ([]policyRef, error) {
	apps, err := h.listApps(r, s)
	if err != nil {
		return nil, err
	}
	var refs []policyRef
	for _, a := range apps {
		ps, err := h.listPolicies(r, s, a.ID)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if namesToken(p, tokenID) {
				refs = append(refs, policyRef{App: a, Policy: p})
			}
		}
	}
	return refs, nil
}

func namesToken(p apiv1.Policy, tokenID string) bool {
	for _, list := range [][]apiv1.Rule{p.Include, p.Exclude} {
		for _, rule := range list {
			if rule.ServiceToken != nil && rule.ServiceToken.TokenID == tokenID {
				return true
			}
		}
	}
	return false
}
