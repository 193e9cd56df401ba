package cli

import (
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

func (a *app) auditCommand() *cobra.Command {
	var (
		tokenID, appID, event string
		since, until          string
		limit                 int
		before                int64
	)
	cmd := &cobra.Command{
		Use:   "audit [--token ID] [--app ID] [--event NAME] [--since TIME] [--until TIME] [--limit N] [--before EVENT_ID]",
		Short: "Show the audit log, newest first",
		Long: `Show the audit log, newest first: every token, application, policy and admin key
change (with the admin key that made it) and every exchange, issued or denied (with
the reason, the token's id and name, client id, application, approving policy, source
address and request id). It never holds a secret.

One page at a time: when more events match, the command says on stderr which
--before value shows the next page.`,
		Example: `  svcauth audit
  svcauth audit --event session.denied --since 2030-01-01T00:00:00Z
  svcauth audit --token TOKEN_ID -o json
  svcauth audit --limit 50 --before 1234`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"token_id": tokenID, "app_id": appID, "event": event} {
				if v != "" {
					q.Set(k, v)
				}
			}
			for name, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				if _, err := time.Parse(time.RFC3339, v); err != nil {
					return usagef("--%s %q: want an RFC 3339 time such as 2030-01-02T15:04:05Z", name, v)
				}
				q.Set(name, v)
			}
			if limit < 1 || limit > 1000 {
				return usagef("--limit %d: want 1 to 1000", limit)
			}
			q.Set("limit", itoa(limit))
			if before < 0 {
				return usagef("--before %d: want an event id", before)
			}
			if before > 0 {
				q.Set("before", strconv.FormatInt(before, 10))
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var page apiv1.List[apiv1.AuditEvent]
			if err := c.do(cmd.Context(), "GET", "/v1/audit", q, nil, &page); err != nil {
				return err
			}
			if page.NextCursor != "" {
				defer a.warnf("More events: add --before %s for the next page.\n", page.NextCursor)
			}
			return printList(a, page.Items, []string{"TIME", "EVENT", "ACTOR", "TOKEN", "APP", "REASON", "SOURCE"}, func(e apiv1.AuditEvent) []string {
				token := e.TokenName
				if token == "" {
					token = e.TokenID
				}
				app := e.AppName
				if app == "" {
					app = e.AppID
				}
				event := e.Event
				if e.Count > 1 { // an aggregated denial: how many, up to TIME
					event += " ×" + strconv.Itoa(e.Count)
				}
				return []string{fmtTime(&e.Time), event, orDash(e.Actor), orDash(token), orDash(app), orDash(e.Reason), orDash(e.SourceIP)}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&tokenID, "token", "", "only events of this token id")
	f.StringVar(&appID, "app", "", "only events of this application id")
	f.StringVar(&event, "event", "", "only this event (token.created, session.issued, session.denied, ...)")
	f.StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	f.StringVar(&until, "until", "", "only events before this RFC 3339 time")
	f.IntVar(&limit, "limit", 100, "at most this many events (1 to 1000)")
	f.Int64Var(&before, "before", 0, "only events older than this event id (the next page)")
	return cmd
}
