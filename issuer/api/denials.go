package api

import (
	"log/slog"
	"sync"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
)

// Exchange denials are aggregated before they reach the audit log and the
// log: anyone who can reach a filter can cause them, so a flood of N
// denials must cost O(windows) rows and lines, not N. Identical denials
// (same application, client id, token, source, reason and detail) within a
// window become one audit row with a count and the first and last time,
// and one log line when the first is seen plus, at the end of the window,
// one "similar lines suppressed" line. At most maxRows distinct rows are
// kept per window; denials beyond them are folded into one row per
// application and reason (client id and source dropped). Issued sessions
// are not aggregated: each keeps its own row.

// Denial aggregation defaults.
const (
	DefaultDenialWindow = 10 * time.Second
	// DefaultDenialRows bounds the distinct denial rows (and first log
	// lines) of one window: at most 10 rows a second under any flood.
	DefaultDenialRows = 100
)

type denialKey struct {
	appID, tokenID, clientID, source, reason, detail string
}

type foldKey struct{ appID, reason string }

type denialAggregator struct {
	out     *auditWriter
	log     *slog.Logger
	maxRows int

	mu     sync.Mutex
	rows   map[denialKey]*domain.AuditEvent
	order  []*domain.AuditEvent // rows and folded rows, in first-seen order
	folded map[foldKey]*domain.AuditEvent

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newDenialAggregator(out *auditWriter, log *slog.Logger, window time.Duration, maxRows int) *denialAggregator {
	d := &denialAggregator{out: out, log: log, maxRows: maxRows,
		rows: map[denialKey]*domain.AuditEvent{}, folded: map[foldKey]*domain.AuditEvent{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go d.loop(window)
	return d
}

func (d *denialAggregator) loop(window time.Duration) {
	defer close(d.done)
	t := time.NewTicker(window)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.drain()
		}
	}
}

// add records the denial ev (Time set); log is the request's logger, for
// the first line of its kind in the window.
func (d *denialAggregator) add(ev domain.AuditEvent, log *slog.Logger) {
	k := denialKey{ev.AppID, ev.TokenID, ev.ClientID, ev.SourceIP, ev.Reason, ev.Detail}
	d.mu.Lock()
	if row, ok := d.rows[k]; ok {
		row.Count++
		row.Time = ev.Time
		d.mu.Unlock()
		return
	}
	if len(d.rows) < d.maxRows {
		ev.Count, ev.FirstTime = 1, ev.Time
		d.rows[k] = &ev
		d.order = append(d.order, &ev)
		d.mu.Unlock()
		log.Info("exchange denied", "reason", ev.Reason, "app_id", ev.AppID, "token_id", ev.TokenID,
			"client_id", ev.ClientID, "source_ip", ev.SourceIP)
		return
	}
	fk := foldKey{ev.AppID, ev.Reason}
	if row, ok := d.folded[fk]; ok {
		row.Count++
		row.Time = ev.Time
		d.mu.Unlock()
		return
	}
	row := &domain.AuditEvent{Time: ev.Time, FirstTime: ev.Time, Count: 1, Event: ev.Event, Actor: ev.Actor,
		AppID: ev.AppID, AppName: ev.AppName, Reason: ev.Reason,
		Detail: "more distinct denials in the window than its row limit: aggregated over client ids and sources"}
	d.folded[fk] = row
	d.order = append(d.order, row)
	d.mu.Unlock()
	log.Warn("exchange denials over the audit row limit of the window: aggregated by application and reason until it ends",
		"reason", ev.Reason, "app_id", ev.AppID, "rows_per_window", d.maxRows)
}

// drain ends the window: its rows go to the audit writer, and a summary
// line is logged for each row that stood for more than one denial.
func (d *denialAggregator) drain() {
	d.mu.Lock()
	rows := d.order
	if len(rows) == 0 {
		d.mu.Unlock()
		return
	}
	d.order = nil
	clear(d.rows)
	clear(d.folded)
	d.mu.Unlock()
	for _, row := range rows {
		if row.Count > 1 {
			d.log.Info("exchange denied: similar lines suppressed", "suppressed", row.Count-1, "reason", row.Reason,
				"app_id", row.AppID, "token_id", row.TokenID, "client_id", row.ClientID, "source_ip", row.SourceIP,
				"first", row.FirstTime.UTC(), "last", row.Time.UTC())
		}
		d.out.add(*row)
	}
}

// close stops the window timer and drains what is held.
func (d *denialAggregator) close() {
	d.once.Do(func() { close(d.stop) })
	<-d.done
	d.drain()
}
