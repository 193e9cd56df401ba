package postgres

import (
	"context"
	"time"
)

// ChangesChannel is the channel the schema's triggers NOTIFY with the name
// of the table that changed.
const ChangesChannel = "svcauth_changes"

// Listen calls changed with the table of every change announced on
// ChangesChannel, by any replica, until ctx ends; ready (when not nil) is
// closed once the first LISTEN is in place. When the notification
// connection drops, or the first one could not be made, it tries again
// every second and, once listening, calls changed("") once: anything may
// have changed while it was not. Meanwhile the issuer's cache TTL bounds
// how stale its caches are.
func (d *DB) Listen(ctx context.Context, changed func(table string), ready chan<- struct{}, logf func(msg string, args ...any)) {
	missed := false
	for ctx.Err() == nil {
		err := d.listenOnce(ctx, changed, func() {
			if missed {
				changed("") // what was missed while away
				missed = false
			}
			if ready != nil {
				close(ready)
				ready = nil
			}
		})
		if ctx.Err() != nil {
			return
		}
		missed = true
		if logf != nil {
			logf("postgres change notifications interrupted; caches fall back to their TTL until they are back", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (d *DB) listenOnce(ctx context.Context, changed func(string), up func()) error {
	c, err := d.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection is the listener's alone: a pooled connection that
	// LISTENs would hand notifications to whoever borrows it next.
	conn := c.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+ChangesChannel); err != nil {
		return err
	}
	up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		changed(n.Payload)
	}
}
