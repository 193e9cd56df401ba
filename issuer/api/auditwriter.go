package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// Exchange audit rows (session.issued, session.denied) are written in the
// background, in batches, so that an exchange never waits for the database.

// Audit writer defaults.
const (
	DefaultAuditFlushInterval = 200 * time.Millisecond
	DefaultAuditBufferSize    = 16384
	// auditBatchSize bounds the rows of one write transaction. Large
	// transactions write each touched page once (page writes, not rows,
	// dominate the cost); the storage yields the CPU between statements.
	auditBatchSize = 5000
)

// auditWriter buffers events (at most max) and writes them every interval,
// when the buffer fills up, on Flush and at close. When the buffer is full,
// events are dropped, counted in svcauth_audit_events_dropped_total, and
// logged once until a write succeeds again: the exchange never blocks.
type auditWriter struct {
	store    storage.Storage
	log      *slog.Logger
	dropped  prometheus.Counter
	max      int
	interval time.Duration

	mu     sync.Mutex
	buf    []domain.AuditEvent
	spare  []domain.AuditEvent // the written buffer, empty, for the next turn
	warned bool                // a drop was logged since the last successful write

	flushMu sync.Mutex    // one write at a time, in order
	kick    chan struct{} // wakes the loop early when the buffer fills up
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newAuditWriter(store storage.Storage, log *slog.Logger, dropped prometheus.Counter, max int, interval time.Duration) *auditWriter {
	a := &auditWriter{
		store: store, log: log, dropped: dropped, max: max, interval: interval,
		buf:  make([]domain.AuditEvent, 0, 256),
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go a.loop()
	return a
}

// add queues e; it never blocks on the database.
func (a *auditWriter) add(e domain.AuditEvent) {
	a.mu.Lock()
	if len(a.buf) >= a.max {
		warn := !a.warned
		a.warned = true
		a.mu.Unlock()
		a.dropped.Inc()
		if warn {
			a.log.Error("audit buffer full: dropping exchange audit events until the database keeps up (counted in svcauth_audit_events_dropped_total)",
				"capacity", a.max)
		}
		return
	}
	a.buf = append(a.buf, e)
	n := len(a.buf)
	a.mu.Unlock()
	if n >= a.max/4 { // write early rather than drop
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

func (a *auditWriter) loop() {
	defer close(a.done)
	t := time.NewTicker(a.interval)
	defer t.Stop()
	failing := false // logged once per outage, not every interval
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		case <-a.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := a.Flush(ctx)
		cancel()
		switch {
		case err != nil && !failing:
			a.log.Error("writing exchange audit events failed; they stay queued and are retried", "err", err)
			failing = true
		case err == nil && failing:
			a.log.Info("writing exchange audit events works again")
			failing = false
		}
	}
}

// Flush writes every queued event. Events a failed write did not store are
// queued again (as far as there is room).
func (a *auditWriter) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	batch := a.buf
	if len(batch) == 0 {
		a.mu.Unlock()
		return nil
	}
	// The two buffers take turns: one fills while the other is written.
	// A new buffer per flush was a tenth of the issuer's allocation
	// under load (and of its collections).
	if a.spare != nil {
		a.buf, a.spare = a.spare, nil
	} else {
		a.buf = make([]domain.AuditEvent, 0, min(len(batch), a.max))
	}
	a.mu.Unlock()

	for rest := batch; len(rest) > 0; {
		n := min(len(rest), auditBatchSize)
		if err := a.store.AppendAudits(ctx, rest[:n]); err != nil {
			a.requeue(rest)
			return err
		}
		rest = rest[n:]
	}
	clear(batch) // drop the events' strings
	a.mu.Lock()
	a.spare = batch[:0]
	a.warned = false
	a.mu.Unlock()
	return nil
}

// requeue puts unwritten events back in front of the queue, dropping (and
// counting) what does not fit.
func (a *auditWriter) requeue(events []domain.AuditEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	room := a.max - len(a.buf)
	if room <= 0 {
		a.dropped.Add(float64(len(events)))
		return
	}
	if len(events) > room {
		a.dropped.Add(float64(len(events) - room))
		events = events[len(events)-room:]
	}
	a.buf = append(append(make([]domain.AuditEvent, 0, len(events)+len(a.buf)), events...), a.buf...)
}

// Close stops the background writer and writes what is queued.
func (a *auditWriter) Close(ctx context.Context) error {
	a.once.Do(func() { close(a.stop) })
	select {
	case <-a.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return a.Flush(ctx)
}
