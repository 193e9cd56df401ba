package ui

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/internal/testenv"
)

func TestRelative(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		30 * time.Second:       "just now",
		-5 * time.Minute:       "5 minutes ago",
		time.Hour:              "in 1 hour",
		47 * time.Hour:         "in 47 hours",
		3 * 24 * time.Hour:     "in 3 days",
		720 * time.Hour:        "in 30 days",
		-90 * 24 * time.Hour:   "3 months ago",
		8759 * time.Hour:       "in 1 year",
		8760 * time.Hour:       "in 1 year",
		3 * 8760 * time.Hour:   "in 3 years",
		-400 * 24 * time.Hour:  "1 year ago",
		1000 * 24 * time.Hour:  "in 3 years",
		100 * 8760 * time.Hour: "in 100 years",
	} {
		at := now.Add(d)
		if got := relative(&at, now); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
	if relative(nil, now) != "" {
		t.Error("nil time")
	}
}

func TestSafeNext(t *testing.T) {
	for p, want := range map[string]bool{
		"/ui/tokens": true, "/ui/audit": true, "//evil.example/ui/": false, "/ui/\\evil": false,
		"https://evil.example/ui/": false, "/v1/audit": false, "/ui/secret/abc": false, "/ui/static/app.css": false,
	} {
		if got := safeNext(p); got != want {
			t.Errorf("safeNext(%q) = %v", p, got)
		}
	}
}

func TestOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		remote, host string
		tls, want    bool
	}{
		{"127.0.0.1:1", "127.0.0.1:8081", false, true},
		{"127.0.0.1:1", "localhost", false, true},
		{"[::1]:1", "[::1]:8081", false, true},
		{"127.0.0.1:1", "127.0.0.1:8081", true, false},
		{"127.0.0.1:1", "svcauth.example.com", false, false},
		{"10.0.0.1:1", "127.0.0.1:8081", false, false},
	} {
		r := httptest.NewRequest("GET", "/ui/", nil)
		r.RemoteAddr, r.Host = tc.remote, tc.host
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := onLoopback(r); got != tc.want {
			t.Errorf("%+v: %v", tc, got)
		}
	}
}

func TestSessionStoreBounds(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newSessionStore(testenv.SQLite(t), slog.New(slog.DiscardHandler), func() time.Time { return now }, time.Hour, 2*time.Hour, 2)
	create := func(key, actor string) string {
		t.Helper()
		v, err := st.create(ctx, key, actor)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	get := func(v string) (sessionView, bool) {
		t.Helper()
		s, ok, err := st.get(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		return s, ok
	}
	// Minutes apart: recency is recorded to within touchEvery.
	a := create("k1", "a")
	now = now.Add(2 * time.Minute)
	b := create("k2", "b")
	now = now.Add(2 * time.Minute)
	if _, ok := get(a); !ok {
		t.Fatal("session a")
	}
	now = now.Add(2 * time.Minute)
	c := create("k3", "c") // evicts b, the least recently used
	if _, ok := get(b); ok {
		t.Fatal("b should have been evicted")
	}
	for _, v := range []string{a, c} {
		if _, ok := get(v); !ok {
			t.Fatal("live session lost")
		}
	}
	sa, _ := get(a)
	if sa.adminKey != "k1" || sa.Actor != "a" || sa.CSRF == "" {
		t.Fatalf("session a opened as %+v", sa)
	}
	put := func() string {
		t.Helper()
		id, err := st.putSecret(ctx, sa, oneTime{ClientSecret: "s"})
		if err != nil || id == "" {
			t.Fatalf("putSecret: %q, %v", id, err)
		}
		return id
	}
	take := func(id string) bool {
		t.Helper()
		o, ok, err := st.takeSecret(ctx, sa, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok && o.ClientSecret != "s" {
			t.Fatalf("slot opened as %+v", o)
		}
		return ok
	}
	var slots []string
	for i := 0; i < maxSlotsPerSession+2; i++ {
		slots = append(slots, put())
		now = now.Add(time.Millisecond)
	}
	if take(slots[0]) {
		t.Fatal("the oldest slot should have been dropped")
	}
	last := slots[len(slots)-1]
	if !take(last) {
		t.Fatal("newest slot")
	}
	if take(last) {
		t.Fatal("a slot read twice")
	}
	id := put()
	now = now.Add(slotTTL)
	if take(id) {
		t.Fatal("an expired slot was shown")
	}
}
