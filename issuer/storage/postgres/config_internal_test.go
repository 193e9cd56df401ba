package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestScrub: an error whose text holds the DSN's password, in the URL or
// as a parameter, loses it; other errors are returned as they are.
func TestScrub(t *testing.T) {
	for dsn, pw := range map[string]string{
		"postgres://svcauth:s3cr3t@db/svcauth":         "s3cr3t",
		"postgres://db/svcauth?password=p4ss&x=1":      "p4ss",
		"postgres://svcauth:a1@db/svcauth?password=b2": "b2",
	} {
		err := ScrubError(errors.New("dial: "+dsn+" said "+pw), dsn)
		if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("%s: %v", dsn, err)
		}
	}
	plain := errors.New("connection refused")
	if ScrubError(plain, "postgres://svcauth:s3cr3t@db/x") != plain || ScrubError(nil, "postgres://db/x") != nil {
		t.Error("an error without the password, or nil, was changed")
	}
}

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
