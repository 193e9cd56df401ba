package domain

import (
	"strings"
	"testing"
	"time"
)

func TestKeyStatesThroughRotations(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	app := App{ID: "a", AUD: strings.Repeat("ab", 32), SessionDuration: time.Hour, KeyVersion: 1}
	keys := []AppKey{{AppID: "a", Version: 1, CreatedAt: t0, ActivatesAt: t0}}
	states := func(now time.Time) string {
		var s []string
		for _, k := range KeyStatuses(app, keys, now) {
			s = append(s, k.State)
		}
		return strings.Join(s, ",")
	}
	if got := states(t0); got != "signing" {
		t.Fatalf("one key: %s", got)
	}

	// Rotate at t0+1m with 30s: v2 pending, then signing; v1 retires 1h5m later.
	var k2 AppKey
	keys, k2 = RotateAppKeys(app, keys, t0.Add(time.Minute), 30*time.Second, AppKey{})
	app.KeyVersion = 2
	act := t0.Add(time.Minute + 30*time.Second)
	if k2.Version != 2 || !k2.ActivatesAt.Equal(act) || keys[0].RetiresAt == nil || !keys[0].RetiresAt.Equal(act.Add(time.Hour+KeyRetireSkew)) {
		t.Fatalf("after rotation: %+v", keys)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(time.Minute), "signing,pending"},
		{act.Add(-time.Nanosecond), "signing,pending"},
		{act, "previous,signing"},
		{act.Add(time.Hour + KeyRetireSkew - time.Nanosecond), "previous,signing"},
		{act.Add(time.Hour + KeyRetireSkew), "retired,signing"},
	} {
		if got := states(c.at); got != c.want {
			t.Errorf("at %v: %s, want %s", c.at.Sub(t0), got, c.want)
		}
	}
	if k, ok := SigningKey(app, keys, act); !ok || k.Version != 2 || k.KID != app.AUD[:12]+".v2" {
		t.Fatalf("signing key at activation %+v %v", k, ok)
	}
	if got := len(PublishedKeys(app, keys, act)); got != 2 {
		t.Fatalf("%d published keys after activation", got)
	}
	if next := NextKeyRetirement(app, keys, act); !next.Equal(act.Add(time.Hour + KeyRetireSkew)) {
		t.Fatalf("next retirement %v", next)
	}

	// A longer session duration afterwards keeps v1 published longer.
	longer := app
	longer.SessionDuration = 3 * time.Hour
	if st := KeyStatuses(longer, keys, act.Add(2*time.Hour)); st[0].State != KeyPrevious {
		t.Fatalf("v1 retired despite sessions of 3h: %+v", st[0])
	}

	// Two quick rotations, the second immediate: v3 signs at once, v2
	// never signed, v1 and v2 stay published until their sessions could
	// have expired.
	now := t0.Add(2 * time.Minute)
	keys, _ = RotateAppKeys(app, keys, t0.Add(time.Minute+10*time.Second), time.Hour, AppKey{})
	app.KeyVersion = 3
	keys, _ = RotateAppKeys(app, keys, now, 0, AppKey{})
	app.KeyVersion = 4
	if got := states(now); got != "previous,previous,pending,signing" {
		t.Fatalf("after immediate rotation: %s", got)
	}
	if k, _ := SigningKey(app, keys, now); k.Version != 4 {
		t.Fatalf("signing v%d, want v4", k.Version)
	}
	// v2's retirement was set when v3 was made (v3's activation + 1h5m);
	// it is kept, later than strictly needed, rather than shortened.
	if got := states(now.Add(2 * time.Hour)); got != "retired,previous,retired,signing" {
		t.Fatalf("2h later: %s", got)
	}
	if got := states(t0.Add(time.Minute + 10*time.Second + time.Hour + time.Hour + KeyRetireSkew)); got != "retired,retired,retired,signing" {
		t.Fatalf("once v2's sessions are over: %s", got)
	}
}

func TestParseKeyActivateAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 30 * time.Second, "0s": 0, "0": 0, "90s": 90 * time.Second, "1h": time.Hour} {
		if got, err := ParseKeyActivateAfter(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1h1s", "-1s", "soon", "30"} {
		if _, err := ParseKeyActivateAfter(in); ErrorCode(err) != EInvalid {
			t.Errorf("%q: %v, want bad_request", in, err)
		}
	}
}

func TestSessionIssuedAtNeverLooksRevoked(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 10, 700_000_000, time.UTC) // .7s into second 10
	sec := now.Unix()
	app, tok := App{}, Token{}
	if got := SessionIssuedAt(&app, &tok, now); got != sec {
		t.Fatalf("no revocation: iat %d, want %d", got, sec)
	}
	// Sessions revoked at .3s of the same second: the filter refuses
	// iat < ceil(.3s) = sec+1, so the new session is dated sec+1.
	snb := now.Add(-400 * time.Millisecond)
	app.SessionsNotBefore = &snb
	if got := SessionIssuedAt(&app, &tok, now); got != sec+1 || got < CeilUnix(snb) {
		t.Fatalf("after revoke-sessions in the same second: iat %d", got)
	}
	// Token revoked at .3s: the filter refuses iat <= floor(.3s) = sec.
	app.SessionsNotBefore = nil
	tok.SessionsRevokedAt = &snb
	if got := SessionIssuedAt(&app, &tok, now); got != sec+1 || got <= tok.SessionsRevokedAt.Unix() {
		t.Fatalf("after a token revocation in the same second: iat %d", got)
	}
	// Older revocations change nothing.
	old := now.Add(-time.Hour)
	tok.SessionsRevokedAt, app.SessionsNotBefore = &old, &old
	if got := SessionIssuedAt(&app, &tok, now); got != sec {
		t.Fatalf("old revocations: iat %d", got)
	}
	if CeilUnix(time.Unix(5, 0)) != 5 || CeilUnix(time.Unix(5, 1)) != 6 {
		t.Fatal("CeilUnix")
	}
}
