package api

import (
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// tokenOut shows t; secret hashes never leave the server.
func tokenOut(t domain.Token, now time.Time) apiv1.Token {
	out := apiv1.Token{
		ID:                  t.ID,
		Name:                t.Name,
		ClientID:            t.ClientID,
		ClientSecretVersion: t.ClientSecretVersion,
		Duration:            t.Duration.String(),
		ExpiresAt:           utc(t.ExpiresAt),
		Enabled:             t.Enabled,
		Status:              t.Status(now),
		CreatedAt:           t.CreatedAt.UTC(),
		UpdatedAt:           t.UpdatedAt.UTC(),
		LastSeenAt:          utc(t.LastSeenAt),
	}
	if t.PreviousSecretExpiresAt != nil && now.Before(*t.PreviousSecretExpiresAt) {
		out.PreviousSecretExpiresAt = utc(t.PreviousSecretExpiresAt)
	}
	return out
}

func appOut(a domain.App) apiv1.App {
	domains := a.Domains
	if domains == nil {
		domains = []string{}
	}
	return apiv1.App{
		ID:                a.ID,
		Name:              a.Name,
		Domains:           domains,
		AUD:               a.AUD,
		SessionDuration:   domain.FormatDuration(a.SessionDuration),
		KeyVersion:        a.KeyVersion,
		KeyID:             domain.KeyID(a.AUD, a.KeyVersion),
		SessionAlgorithm:  a.SessionAlgorithm,
		SessionsNotBefore: utc(a.SessionsNotBefore),
		CreatedAt:         a.CreatedAt.UTC(),
		UpdatedAt:         a.UpdatedAt.UTC(),
	}
}

func policyOut(p domain.Policy) apiv1.Policy {
	include, exclude := p.Include, p.Exclude
	if include == nil {
		include = []domain.Rule{}
	}
	if exclude == nil {
		exclude = []domain.Rule{}
	}
	return apiv1.Policy{
		ID:         p.ID,
		AppID:      p.AppID,
		Name:       p.Name,
		Decision:   string(p.Decision),
		Include:    include,
		Exclude:    exclude,
		Precedence: p.Precedence,
		CreatedAt:  p.CreatedAt.UTC(),
		UpdatedAt:  p.UpdatedAt.UTC(),
	}
}

func auditOut(e domain.AuditEvent) apiv1.AuditEvent {
	out := apiv1.AuditEvent{
		ID: e.ID, Time: e.Time.UTC(), Event: e.Event, Actor: e.Actor,
		TokenID: e.TokenID, TokenName: e.TokenName, ClientID: e.ClientID,
		AppID: e.AppID, AppName: e.AppName, PolicyID: e.PolicyID,
		SourceIP: e.SourceIP, RequestID: e.RequestID, Reason: e.Reason, Detail: e.Detail,
	}
	if e.Count > 1 {
		first := e.FirstTime.UTC()
		out.Count, out.FirstTime = e.Count, &first
	}
	return out
}
