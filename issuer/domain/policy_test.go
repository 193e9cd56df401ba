package domain

import (
	"testing"
)

func TestEvaluate(t *testing.T) {
	const me, other = "tok-me", "tok-other"
	pol := func(id string, prec int, d Decision, include []Rule, exclude ...Rule) Policy {
		return Policy{ID: id, Precedence: prec, Decision: d, Include: include, Exclude: exclude}
	}
	rules := func(r ...Rule) []Rule { return r }
	anyToken, everyone, mine, others := RuleAnyValidServiceToken(), RuleEveryone(), RuleServiceToken(me), RuleServiceToken(other)

	cases := []struct {
		name     string
		policies []Policy
		outcome  Outcome
		policy   string
	}{
		{"no policies", nil, OutcomeNoMatch, ""},
		{"service auth for any token", []Policy{pol("p1", 1, DecisionNonIdentity, rules(anyToken))}, OutcomeAdmit, "p1"},
		{"service auth for this token", []Policy{pol("p1", 1, DecisionNonIdentity, rules(mine))}, OutcomeAdmit, "p1"},
		{"service auth for another token", []Policy{pol("p1", 1, DecisionNonIdentity, rules(others))}, OutcomeNoMatch, ""},
		{"include is any-of", []Policy{pol("p1", 1, DecisionNonIdentity, rules(others, mine))}, OutcomeAdmit, "p1"},
		{"service auth for everyone", []Policy{pol("p1", 1, DecisionNonIdentity, rules(everyone))}, OutcomeAdmit, "p1"},
		{"exclude wins over include", []Policy{pol("p1", 1, DecisionNonIdentity, rules(anyToken), mine)}, OutcomeNoMatch, ""},
		{"exclude of another token", []Policy{pol("p1", 1, DecisionNonIdentity, rules(anyToken), others)}, OutcomeAdmit, "p1"},
		{"bypass admits", []Policy{pol("p1", 1, DecisionBypass, rules(everyone))}, OutcomeAdmit, "p1"},
		{"deny matches", []Policy{pol("p1", 1, DecisionDeny, rules(mine))}, OutcomeDeny, "p1"},
		{"allow needs an identity", []Policy{pol("p1", 1, DecisionAllow, rules(anyToken))}, OutcomeIdentityRequired, "p1"},
		{"service auth before an earlier deny", []Policy{
			pol("deny", 1, DecisionDeny, rules(everyone)),
			pol("auth", 2, DecisionNonIdentity, rules(mine)),
		}, OutcomeAdmit, "auth"},
		{"bypass before an earlier allow", []Policy{
			pol("allow", 1, DecisionAllow, rules(everyone)),
			pol("bypass", 2, DecisionBypass, rules(anyToken)),
		}, OutcomeAdmit, "bypass"},
		{"first of several service auth policies wins", []Policy{
			pol("second", 2, DecisionNonIdentity, rules(anyToken)),
			pol("first", 1, DecisionNonIdentity, rules(mine)),
		}, OutcomeAdmit, "first"},
		{"excluded from service auth, then denied", []Policy{
			pol("auth", 1, DecisionNonIdentity, rules(anyToken), mine),
			pol("deny", 2, DecisionDeny, rules(mine)),
		}, OutcomeDeny, "deny"},
		{"allow and deny in order: allow first", []Policy{
			pol("allow", 1, DecisionAllow, rules(mine)),
			pol("deny", 2, DecisionDeny, rules(everyone)),
		}, OutcomeIdentityRequired, "allow"},
		{"allow and deny in order: deny first", []Policy{
			pol("allow", 2, DecisionAllow, rules(mine)),
			pol("deny", 1, DecisionDeny, rules(everyone)),
		}, OutcomeDeny, "deny"},
		{"non-matching deny is skipped", []Policy{
			pol("deny", 1, DecisionDeny, rules(others)),
		}, OutcomeNoMatch, ""},
		{"empty rule never matches", []Policy{pol("p1", 1, DecisionNonIdentity, rules(Rule{}))}, OutcomeNoMatch, ""},
		{"bypass and service auth share one pass: bypass first", []Policy{
			pol("auth", 2, DecisionNonIdentity, rules(mine)),
			pol("bypass", 1, DecisionBypass, rules(everyone)),
		}, OutcomeAdmit, "bypass"},
		{"bypass and service auth share one pass: service auth first", []Policy{
			pol("bypass", 2, DecisionBypass, rules(everyone)),
			pol("auth", 1, DecisionNonIdentity, rules(mine)),
		}, OutcomeAdmit, "auth"},
		{"precedence, not list order, decides among allow and deny", []Policy{
			pol("deny", 5, DecisionDeny, rules(mine)),
			pol("allow", 3, DecisionAllow, rules(everyone)),
		}, OutcomeIdentityRequired, "allow"},
		{"equal precedence keeps the given order", []Policy{
			pol("a", 1, DecisionNonIdentity, rules(anyToken)),
			pol("b", 1, DecisionNonIdentity, rules(mine)),
		}, OutcomeAdmit, "a"},
		{"excluding everyone matches nobody", []Policy{pol("p1", 1, DecisionNonIdentity, rules(anyToken), everyone)}, OutcomeNoMatch, ""},
		{"any one matching exclude rule excludes", []Policy{pol("p1", 1, DecisionNonIdentity, rules(everyone), others, mine)}, OutcomeNoMatch, ""},
		{"excluded from bypass, then denied", []Policy{
			pol("bypass", 1, DecisionBypass, rules(everyone), mine),
			pol("deny", 2, DecisionDeny, rules(everyone)),
		}, OutcomeDeny, "deny"},
		{"excluded from an allow, then denied", []Policy{
			pol("allow", 1, DecisionAllow, rules(everyone), mine),
			pol("deny", 2, DecisionDeny, rules(anyToken)),
		}, OutcomeDeny, "deny"},
		{"service auth for another token, then allow", []Policy{
			pol("auth", 1, DecisionNonIdentity, rules(others)),
			pol("allow", 2, DecisionAllow, rules(everyone)),
		}, OutcomeIdentityRequired, "allow"},
		{"bypass for another token, then deny", []Policy{
			pol("bypass", 1, DecisionBypass, rules(others)),
			pol("deny", 2, DecisionDeny, rules(anyToken)),
		}, OutcomeDeny, "deny"},
		{"a deny excluding this token lets a later service auth admit", []Policy{
			pol("deny", 1, DecisionDeny, rules(everyone), mine),
			pol("auth", 2, DecisionNonIdentity, rules(mine)),
		}, OutcomeAdmit, "auth"},
		{"a later, matching deny never beats service auth", []Policy{
			pol("auth", 1, DecisionNonIdentity, rules(anyToken)),
			pol("deny", 2, DecisionDeny, rules(mine)),
		}, OutcomeAdmit, "auth"},
		{"only non-matching policies", []Policy{
			pol("auth", 1, DecisionNonIdentity, rules(others)),
			pol("bypass", 2, DecisionBypass, rules(others)),
			pol("allow", 3, DecisionAllow, rules(others)),
			pol("deny", 4, DecisionDeny, rules(others)),
		}, OutcomeNoMatch, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.policies, Subject{TokenID: me})
			id := ""
			if got.Policy != nil {
				id = got.Policy.ID
			}
			if got.Outcome != tc.outcome || id != tc.policy {
				t.Fatalf("Evaluate = outcome %d policy %q, want %d %q", got.Outcome, id, tc.outcome, tc.policy)
			}
		})
	}
}

func TestValidatePolicy(t *testing.T) {
	ok := Policy{Decision: DecisionNonIdentity, Include: []Rule{RuleAnyValidServiceToken()}}
	if err := ValidatePolicy(&ok); err != nil {
		t.Fatal(err)
	}
	two := Rule{Everyone: &EmptyRule{}, AnyValidServiceToken: &EmptyRule{}}
	for name, p := range map[string]Policy{
		"bad decision":   {Decision: "permit", Include: []Rule{RuleEveryone()}},
		"no include":     {Decision: DecisionBypass},
		"empty rule":     {Decision: DecisionBypass, Include: []Rule{{}}},
		"two kinds":      {Decision: DecisionBypass, Include: []Rule{two}},
		"bad exclude":    {Decision: DecisionBypass, Include: []Rule{RuleEveryone()}, Exclude: []Rule{{}}},
		"token no id":    {Decision: DecisionBypass, Include: []Rule{RuleServiceToken("")}},
		"bad name":       {Name: " x", Decision: DecisionBypass, Include: []Rule{RuleEveryone()}},
		"too many rules": {Decision: DecisionBypass, Include: make([]Rule, MaxRules+1)},
	} {
		if err := ValidatePolicy(&p); ErrorCode(err) != EInvalid {
			t.Errorf("%s: error %v, want %s", name, err, EInvalid)
		}
	}
}
