package ui

import (
	"net/http"
	"strings"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// Rule choices as the policy form submits them: the two selectors without
// parameters, or "token:" + a token id.
const (
	choiceAnyToken = "any_valid_service_token"
	choiceEveryone = "everyone"
	choiceToken    = "token:"
)

type decisionOption = struct{ Value, Label, Help string }

type policyForm struct {
	App       apiv1.App
	PolicyID  string // "" for a new policy
	Name      string
	Decision  string
	Include   []string
	Exclude   []string
	Tokens    []apiv1.Token
	Decisions []decisionOption
}

func choices(rules []apiv1.Rule) []string {
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		switch {
		case r.ServiceToken != nil:
			out = append(out, choiceToken+r.ServiceToken.TokenID)
		case r.AnyValidServiceToken != nil:
			out = append(out, choiceAnyToken)
		case r.Everyone != nil:
			out = append(out, choiceEveryone)
		}
	}
	return out
}

// rulesFrom turns submitted choices into rules; ok is false on a value the
// form never offers.
func rulesFrom(values []string) ([]apiv1.Rule, bool) {
	rules := []apiv1.Rule{}
	for _, v := range values {
		switch {
		case v == choiceAnyToken:
			rules = append(rules, domain.RuleAnyValidServiceToken())
		case v == choiceEveryone:
			rules = append(rules, domain.RuleEveryone())
		case strings.HasPrefix(v, choiceToken) && len(v) > len(choiceToken):
			rules = append(rules, domain.RuleServiceToken(strings.TrimPrefix(v, choiceToken)))
		default:
			return nil, false
		}
	}
	return rules, true
}

func policyURL(appID, id string) string { return appURL(appID) + "/policies/" + esc(id) }

func (h *Handler) renderPolicyForm(w http.ResponseWriter, r *http.Request, s sessionView, status int, f policyForm, errMsg string) {
	a, err := h.getApp(r, s, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	tokens, err := h.listTokens(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	f.App, f.Tokens, f.Decisions = a, tokens, decisions
	title := "Add a policy to " + a.Name
	if f.PolicyID != "" {
		title = "Edit a policy of " + a.Name
	}
	v := h.view(r, s, title, "apps")
	v.Error = errMsg
	v.Data = f
	h.render(w, r, status, "policy_form", v)
}

func (h *Handler) newPolicyPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	h.renderPolicyForm(w, r, s, http.StatusOK, policyForm{Decision: string(domain.DecisionNonIdentity)}, "")
}

func (h *Handler) editPolicyPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	var p apiv1.Policy
	if err := h.call(r, s, http.MethodGet, policyPath(r), nil, nil, &p); err != nil {
		h.fail(w, r, s, err)
		return
	}
	f := policyForm{PolicyID: p.ID, Name: p.Name, Decision: p.Decision, Include: choices(p.Include), Exclude: choices(p.Exclude)}
	h.renderPolicyForm(w, r, s, http.StatusOK, f, "")
}

func policyPath(r *http.Request) string {
	return "/v1/apps/" + esc(r.PathValue("id")) + "/policies/" + esc(r.PathValue("pid"))
}

// readPolicyForm returns the submitted form and its rules, or a message.
func readPolicyForm(r *http.Request, id string) (policyForm, []apiv1.Rule, []apiv1.Rule, string) {
	f := policyForm{
		PolicyID: id,
		Name:     strings.TrimSpace(r.PostForm.Get("name")),
		Decision: r.PostForm.Get("decision"),
		Include:  r.PostForm["include"],
		Exclude:  r.PostForm["exclude"],
	}
	include, ok1 := rulesFrom(f.Include)
	exclude, ok2 := rulesFrom(f.Exclude)
	if !ok1 || !ok2 {
		return f, nil, nil, "The form held a rule this page does not offer."
	}
	if len(include) == 0 {
		return f, nil, nil, "Choose at least one Include rule: who the policy applies to."
	}
	return f, include, exclude, ""
}

func (h *Handler) createPolicy(w http.ResponseWriter, r *http.Request, s sessionView) {
	appID := r.PathValue("id")
	f, include, exclude, msg := readPolicyForm(r, "")
	if msg != "" {
		h.renderPolicyForm(w, r, s, http.StatusBadRequest, f, msg)
		return
	}
	req := apiv1.CreatePolicyRequest{Name: f.Name, Decision: f.Decision, Include: include, Exclude: exclude}
	var p apiv1.Policy
	if err := h.call(r, s, http.MethodPost, "/v1/apps/"+esc(appID)+"/policies", nil, req, &p); err != nil {
		if msg := formError(err); msg != "" && apiStatus(err) != http.StatusNotFound {
			h.renderPolicyForm(w, r, s, http.StatusBadRequest, f, msg)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	h.done(w, r, s, "success", "Added the policy"+policyName(p)+".", appURL(appID))
}

func policyName(p apiv1.Policy) string {
	if p.Name == "" {
		return ""
	}
	return " " + p.Name
}

func (h *Handler) updatePolicy(w http.ResponseWriter, r *http.Request, s sessionView) {
	appID, id := r.PathValue("id"), r.PathValue("pid")
	f, include, exclude, msg := readPolicyForm(r, id)
	if msg != "" {
		h.renderPolicyForm(w, r, s, http.StatusBadRequest, f, msg)
		return
	}
	req := apiv1.UpdatePolicyRequest{Name: &f.Name, Decision: &f.Decision, Include: &include, Exclude: &exclude}
	var p apiv1.Policy
	if err := h.call(r, s, http.MethodPatch, policyPath(r), nil, req, &p); err != nil {
		if msg := formError(err); msg != "" && apiStatus(err) != http.StatusNotFound {
			h.renderPolicyForm(w, r, s, http.StatusBadRequest, f, msg)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	h.done(w, r, s, "success", "Saved the policy"+policyName(p)+".", appURL(appID))
}

// movePolicy moves a policy one place up or down: the app's policies are
// renumbered 1..n in the new order, updating only those whose precedence
// changes.
func (h *Handler) movePolicy(w http.ResponseWriter, r *http.Request, s sessionView) {
	appID, id := r.PathValue("id"), r.PathValue("pid")
	ps, err := h.listPolicies(r, s, appID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	i := -1
	for k, p := range ps {
		if p.ID == id {
			i = k
		}
	}
	if i < 0 {
		h.done(w, r, s, "error", "That policy no longer exists.", appURL(appID))
		return
	}
	j := i - 1
	if r.PostForm.Get("direction") == "down" {
		j = i + 1
	}
	if j < 0 || j >= len(ps) {
		http.Redirect(w, r, appURL(appID), http.StatusSeeOther)
		return
	}
	ps[i], ps[j] = ps[j], ps[i]
	for k, p := range ps {
		want := k + 1
		if p.Precedence == want {
			continue
		}
		path := "/v1/apps/" + esc(appID) + "/policies/" + esc(p.ID)
		if err := h.call(r, s, http.MethodPatch, path, nil, apiv1.UpdatePolicyRequest{Precedence: &want}, nil); err != nil {
			h.actionFailed(w, r, s, err, appURL(appID))
			return
		}
	}
	h.done(w, r, s, "success", "Moved the policy.", appURL(appID))
}

type deletePolicyData struct {
	App     apiv1.App
	Policy  apiv1.Policy
	Include []ruleView
	Exclude []ruleView
}

func (h *Handler) deletePolicyPage(w http.ResponseWriter, r *http.Request, s sessionView) {
	a, err := h.getApp(r, s, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	var p apiv1.Policy
	if err := h.call(r, s, http.MethodGet, policyPath(r), nil, nil, &p); err != nil {
		h.fail(w, r, s, err)
		return
	}
	names, err := h.tokenNames(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v := h.view(r, s, "Delete a policy of "+a.Name, "apps")
	v.Data = deletePolicyData{App: a, Policy: p, Include: rulesView(p.Include, names), Exclude: rulesView(p.Exclude, names)}
	h.render(w, r, http.StatusOK, "policy_delete", v)
}

func (h *Handler) deletePolicy(w http.ResponseWriter, r *http.Request, s sessionView) {
	appID := r.PathValue("id")
	if err := h.call(r, s, http.MethodDelete, policyPath(r), nil, nil, nil); err != nil {
		h.actionFailed(w, r, s, err, appURL(appID))
		return
	}
	h.done(w, r, s, "success", "Deleted the policy.", appURL(appID))
}
