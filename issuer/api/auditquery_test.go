package api_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

// TestAuditFiltersAndPaging checks GET /v1/audit: newest first, each filter,
// the time range, and keyset paging with next_cursor and before.
func TestAuditFiltersAndPaging(t *testing.T) {
	h := newHarness(t)
	start := h.Now()
	billing := h.createApp("billing", "")
	h.createPolicy(billing.ID, domain.DecisionNonIdentity, []domain.Rule{domain.RuleAnyValidServiceToken()}, nil)
	other := h.createApp("other", "")
	var toks []apiv1.Token
	for i := 0; i < 4; i++ {
		h.Advance(time.Minute)
		toks = append(toks, h.createToken("t"+strconv.Itoa(i), ""))
	}
	h.Advance(time.Minute)
	middle := h.Now()
	h.exchange(toks[0], billing.AUD)
	h.exchange(toks[0], other.AUD)
	h.Advance(time.Minute)
	h.call(request{method: "POST", path: "/v1/service-tokens/" + toks[0].ID + "/refresh"}, 200, nil)

	all := h.audit("limit=1000")
	for i := 1; i < len(all); i++ {
		// By time; exchange rows are written in batches, so ids need not
		// follow time.
		if all[i].Time.After(all[i-1].Time) || all[i].Time.Equal(all[i-1].Time) && all[i].ID > all[i-1].ID {
			t.Fatalf("not newest first at %d: %+v after %+v", i, all[i], all[i-1])
		}
	}
	events := func(rows []apiv1.AuditEvent) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Event+"/"+r.TokenName+"/"+r.AppName)
		}
		return out
	}
	for query, want := range map[string][]string{
		"token_id=" + toks[0].ID:               {"token.refreshed/t0/", "session.denied/t0/other", "session.issued/t0/billing", "token.created/t0/"},
		"app_id=" + other.ID:                   {"session.denied/t0/other", "app.created//other"},
		"event=session.issued":                 {"session.issued/t0/billing"},
		"since=" + middle.Format(time.RFC3339): {"token.refreshed/t0/", "session.denied/t0/other", "session.issued/t0/billing"},
		"since=" + start.Add(2*time.Minute).Format(time.RFC3339) + "&until=" + start.Add(4*time.Minute).Format(time.RFC3339): {"token.created/t2/", "token.created/t1/"},
		"event=token.created&app_id=" + billing.ID: nil,
	} {
		if got := events(h.audit(query)); !equalStrings(got, want) {
			t.Errorf("audit?%s = %v, want %v", query, got, want)
		}
	}

	// Paging: limit n gives n rows and a cursor while more remain; following
	// the cursors returns every row once, in order.
	var paged []apiv1.AuditEvent
	cursor := ""
	for pages := 0; ; pages++ {
		var page apiv1.List[apiv1.AuditEvent]
		path := "/v1/audit?limit=3"
		if cursor != "" {
			path += "&before=" + cursor
		}
		h.call(request{method: "GET", path: path}, 200, &page)
		if len(page.Items) > 3 || pages > len(all) {
			t.Fatalf("page of %d rows", len(page.Items))
		}
		paged = append(paged, page.Items...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(paged) != len(all) {
		t.Fatalf("paging returned %d rows, want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].ID != all[i].ID {
			t.Fatalf("paged row %d is %d, want %d", i, paged[i].ID, all[i].ID)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
