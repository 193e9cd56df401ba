package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Inactive-token clean-up bounds (days), as Cloudflare Access offers them.
const (
	MinInactiveDays = 30
	MaxInactiveDays = 365
)

// Inactive-token clean-up actions.
const (
	InactiveDisable = "disable"
	InactiveDelete  = "delete"
)

// ValidateInactiveCleanup checks the clean-up settings; days 0 turns it off.
func ValidateInactiveCleanup(days int, action string) error {
	if days == 0 {
		return nil
	}
	if days < MinInactiveDays || days > MaxInactiveDays {
		return fmt.Errorf("inactive-token clean-up: %d days; want %d to %d, or 0 for off", days, MinInactiveDays, MaxInactiveDays)
	}
	if action != InactiveDisable && action != InactiveDelete {
		return fmt.Errorf("inactive-token clean-up: action %q; want %s or %s", action, InactiveDisable, InactiveDelete)
	}
	return nil
}

// CleanupInactiveTokens disables or deletes enabled tokens not used in the
// last days days (never-used tokens count from their creation), and records
// each in the audit log. Tokens that policies name are disabled, not
// deleted. It returns how many tokens it changed.
func (s *Server) CleanupInactiveTokens(ctx context.Context, days int, action string) (int, error) {
	if err := ValidateInactiveCleanup(days, action); err != nil || days == 0 {
		return 0, err
	}
	if err := s.FlushLastSeen(ctx); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
	tokens, err := s.store.ListTokens(ctx, storage.TokenFilter{})
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, t := range tokens {
		last := t.CreatedAt
		if t.LastSeenAt != nil && t.LastSeenAt.After(last) {
			last = *t.LastSeenAt
		}
		if !t.Enabled || !last.Before(cutoff) {
			continue
		}
		reason := "inactive for " + strconv.Itoa(days) + " days"
		doDelete := action == InactiveDelete
		if doDelete {
			named, err := s.store.PoliciesNamingToken(ctx, t.ID)
			if err != nil {
				return changed, err
			}
			if len(named) > 0 {
				doDelete = false
				reason += "; disabled, not deleted, because policies name it"
			}
		}
		ev := domain.AuditEvent{Time: now, Actor: domain.ActorSystem, TokenID: t.ID, TokenName: t.Name, ClientID: t.ClientID, Reason: "inactive", Detail: reason}
		if doDelete {
			if err := s.stampSessionsRevoked(ctx, t.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return changed, err
			}
			if err := s.store.DeleteToken(ctx, t.ID); err != nil && err != storage.ErrNotFound {
				return changed, err
			}
			ev.Event = domain.EventTokenDeleted
		} else {
			if _, err := s.store.UpdateToken(ctx, t.ID, func(t domain.Token) (domain.Token, error) {
				t.Enabled, t.UpdatedAt = false, now
				return t, nil
			}); err != nil {
				return changed, err
			}
			ev.Event = domain.EventTokenUpdated
			ev.Detail = "disabled: " + reason
		}
		s.audit(ctx, ev)
		s.log.Info("inactive service token cleaned up", "token_id", t.ID, "token_name", t.Name, "event", ev.Event)
		changed++
	}
	return changed, nil
}

// PruneAudit deletes audit events older than retention (0 keeps all).
func (s *Server) PruneAudit(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, nil
	}
	return s.store.DeleteAuditBefore(ctx, s.now().Add(-retention))
}
