package domain

import (
	"encoding/json"
	"time"
)

// Decision is what a matching policy does.
type Decision string

// Policy decisions, as in Cloudflare Access.
const (
	DecisionNonIdentity Decision = "non_identity" // "Service Auth": admits service tokens
	DecisionBypass      Decision = "bypass"
	DecisionAllow       Decision = "allow" // needs a user identity; never admits a service token
	DecisionDeny        Decision = "deny"
)

// Valid reports whether d is a known decision.
func (d Decision) Valid() bool {
	switch d {
	case DecisionNonIdentity, DecisionBypass, DecisionAllow, DecisionDeny:
		return true
	}
	return false
}

// Policy belongs to an app; an app's policies are ordered by Precedence
// (lower first).
type Policy struct {
	ID         string
	AppID      string
	Name       string
	Decision   Decision
	Include    []Rule
	Exclude    []Rule
	Precedence int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Rule is one selector of a policy. Exactly one field is set; the JSON form
// is {"service_token":{"token_id":ID}}, {"any_valid_service_token":{}} or
// {"everyone":{}}.
type Rule struct {
	ServiceToken         *ServiceTokenRule `json:"service_token,omitempty"`
	AnyValidServiceToken *EmptyRule        `json:"any_valid_service_token,omitempty"`
	Everyone             *EmptyRule        `json:"everyone,omitempty"`
}

// ServiceTokenRule matches one service token.
type ServiceTokenRule struct {
	TokenID string `json:"token_id"`
}

// EmptyRule is the body of selectors without parameters.
type EmptyRule struct{}

// Rule constructors.
func RuleServiceToken(id string) Rule { return Rule{ServiceToken: &ServiceTokenRule{TokenID: id}} }
func RuleAnyValidServiceToken() Rule  { return Rule{AnyValidServiceToken: &EmptyRule{}} }
func RuleEveryone() Rule              { return Rule{Everyone: &EmptyRule{}} }

func (r Rule) kinds() int {
	n := 0
	if r.ServiceToken != nil {
		n++
	}
	if r.AnyValidServiceToken != nil {
		n++
	}
	if r.Everyone != nil {
		n++
	}
	return n
}

// String is the rule's short form, as the CLI takes it.
func (r Rule) String() string {
	switch {
	case r.ServiceToken != nil:
		return "token:" + r.ServiceToken.TokenID
	case r.AnyValidServiceToken != nil:
		return "any_valid_service_token"
	case r.Everyone != nil:
		return "everyone"
	}
	return "invalid"
}

// MarshalRules encodes rules as their JSON array (never null).
func MarshalRules(rules []Rule) ([]byte, error) {
	if rules == nil {
		rules = []Rule{}
	}
	return json.Marshal(rules)
}

// MaxRules bounds include and exclude lists.
const MaxRules = 100

// ValidatePolicy checks p's name, decision and rules. It does not check that
// named tokens exist (the caller does, against storage).
func ValidatePolicy(p *Policy) error {
	if p.Name != "" {
		if err := ValidateName("policy", p.Name); err != nil {
			return err
		}
	}
	if !p.Decision.Valid() {
		return Errorf(EInvalid, "decision %q: want one of non_identity, bypass, allow, deny", p.Decision)
	}
	if len(p.Include) == 0 {
		return Errorf(EInvalid, "include: at least one rule is required")
	}
	if len(p.Include) > MaxRules || len(p.Exclude) > MaxRules {
		return Errorf(EInvalid, "include and exclude: at most %d rules each", MaxRules)
	}
	for _, list := range []struct {
		name  string
		rules []Rule
	}{{"include", p.Include}, {"exclude", p.Exclude}} {
		for i, r := range list.rules {
			if r.kinds() != 1 {
				return Errorf(EInvalid, "%s[%d]: a rule has exactly one of service_token, any_valid_service_token, everyone", list.name, i)
			}
			if r.ServiceToken != nil && r.ServiceToken.TokenID == "" {
				return Errorf(EInvalid, "%s[%d]: service_token needs a token_id", list.name, i)
			}
		}
	}
	return nil
}

// TokenIDs returns the ids of the tokens p's rules name.
func (p *Policy) TokenIDs() []string {
	var ids []string
	for _, list := range [][]Rule{p.Include, p.Exclude} {
		for _, r := range list {
			if r.ServiceToken != nil {
				ids = append(ids, r.ServiceToken.TokenID)
			}
		}
	}
	return ids
}

// Subject is who asks for a session: today always an authenticated,
// valid service token.
type Subject struct {
	TokenID string
}

func (r Rule) matches(s Subject) bool {
	switch {
	case r.ServiceToken != nil:
		return s.TokenID != "" && r.ServiceToken.TokenID == s.TokenID
	case r.AnyValidServiceToken != nil:
		return s.TokenID != ""
	case r.Everyone != nil:
		return true
	}
	return false
}

// Matches reports whether p applies to s: any include rule matches and no
// exclude rule does.
func (p *Policy) Matches(s Subject) bool {
	for _, r := range p.Exclude {
		if r.matches(s) {
			return false
		}
	}
	for _, r := range p.Include {
		if r.matches(s) {
			return true
		}
	}
	return false
}

// Outcome is the result of evaluating an app's policies for a subject.
type Outcome int

// Outcomes.
const (
	// OutcomeNoMatch: no policy applies.
	OutcomeNoMatch Outcome = iota
	// OutcomeAdmit: a Service Auth (non_identity) or bypass policy applies.
	OutcomeAdmit
	// OutcomeDeny: a deny policy applies first.
	OutcomeDeny
	// OutcomeIdentityRequired: an allow policy applies first; it needs a
	// user identity, which a service token does not have.
	OutcomeIdentityRequired
)

// Evaluation is an Outcome and the policy that decided it (nil for NoMatch).
type Evaluation struct {
	Outcome Outcome
	Policy  *Policy
}

// Evaluate applies policies (in any order; they are sorted by Precedence
// here) to s, the way Cloudflare Access orders them: Service Auth and bypass
// policies first, top to bottom, then allow and deny policies in order; the
// first policy that matches decides.
func Evaluate(policies []Policy, s Subject) Evaluation {
	ordered := make([]*Policy, 0, len(policies))
	for i := range policies {
		ordered = append(ordered, &policies[i])
	}
	// Insertion sort: stable, and policy lists are short.
	for i := 1; i < len(ordered); i++ {
		for j := i; j > 0 && ordered[j].Precedence < ordered[j-1].Precedence; j-- {
			ordered[j], ordered[j-1] = ordered[j-1], ordered[j]
		}
	}
	for _, p := range ordered {
		if (p.Decision == DecisionNonIdentity || p.Decision == DecisionBypass) && p.Matches(s) {
			return Evaluation{OutcomeAdmit, p}
		}
	}
	for _, p := range ordered {
		if (p.Decision == DecisionAllow || p.Decision == DecisionDeny) && p.Matches(s) {
			if p.Decision == DecisionDeny {
				return Evaluation{OutcomeDeny, p}
			}
			return Evaluation{OutcomeIdentityRequired, p}
		}
	}
	return Evaluation{OutcomeNoMatch, nil}
}
