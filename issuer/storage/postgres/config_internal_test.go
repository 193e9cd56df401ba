package postgres

import (
	"testing"
	"time"
)

// TestConnectTimeoutDefault: a DSN without connect_timeout gets svcauth's
// bound; one with it keeps its own.
func TestConnectTimeoutDefault(t *testing.T) {
	for dsn, want := range map[string]time.Duration{
		"postgres://svcauth@db.internal/svcauth":                   DefaultConnectTimeout,
		"postgres://svcauth@db.internal/svcauth?connect_timeout=2": 2 * time.Second,
	} {
		cfg, err := poolConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.ConnConfig.ConnectTimeout; got != want {
			t.Errorf("%s: connect timeout %s, want %s", dsn, got, want)
		}
	}
}
