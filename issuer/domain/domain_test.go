package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseTokenDuration(t *testing.T) {
	for in, want := range map[string]string{"": "8760h", "8760h": "8760h", "forever": "forever", "30m": "30m0s", "1h30m": "1h30m0s", "876000h": "876000h"} {
		d, err := ParseTokenDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseTokenDuration(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"1y", "-1h", "0", "0s", "59s", "876001h", "Forever", " 1h", "1 h"} {
		if _, err := ParseTokenDuration(in); ErrorCode(err) != EInvalid {
			t.Errorf("ParseTokenDuration(%q) error %v, want %s", in, err, EInvalid)
		}
	}
}

func TestParseSessionDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 24 * time.Hour, "15m": 15 * time.Minute, "730h": 730 * time.Hour} {
		if d, err := ParseSessionDuration(in); err != nil || d != want {
			t.Errorf("ParseSessionDuration(%q) = %v, %v", in, d, err)
		}
	}
	for _, in := range []string{"731h", "30s", "1d", "1.5s", "-24h"} {
		if _, err := ParseSessionDuration(in); ErrorCode(err) != EInvalid {
			t.Errorf("ParseSessionDuration(%q) error %v", in, err)
		}
	}
}

func TestTokenStatus(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	for _, tc := range []struct {
		tok  Token
		want string
	}{
		{Token{Enabled: true}, StatusActive},
		{Token{Enabled: true, ExpiresAt: at(8 * 24 * time.Hour)}, StatusActive},
		{Token{Enabled: true, ExpiresAt: at(7 * 24 * time.Hour)}, StatusExpiring},
		{Token{Enabled: true, ExpiresAt: at(time.Second)}, StatusExpiring},
		{Token{Enabled: true, ExpiresAt: at(0)}, StatusExpired},
		{Token{Enabled: false, ExpiresAt: at(-time.Hour)}, StatusDisabled},
	} {
		if got := tc.tok.Status(now); got != tc.want {
			t.Errorf("status of %+v = %s, want %s", tc.tok, got, tc.want)
		}
	}
}

func TestNormalizeDomains(t *testing.T) {
	got, err := NormalizeDomains([]string{"API.Example.com", "*.example.org", "example.com:8443/Admin/", "api.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "api.example.com *.example.org example.com:8443/Admin/" {
		t.Fatalf("normalized %v", got)
	}
	for _, bad := range [][]string{nil, {""}, {"https://a.com"}, {"a..com"}, {"-a.com"}, {"a.com:0"}, {"a.com:x"}, {"a.*.com"}, {"*"}, {"a.com/x y"}, {"a.com/?q"}, {"ä.com"}} {
		if _, err := NormalizeDomains(bad); ErrorCode(err) != EInvalid {
			t.Errorf("NormalizeDomains(%q) error %v", bad, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"ci", "CI deploy (prod)", "déploiement", strings.Repeat("x", MaxNameLength)} {
		if err := ValidateName("token", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " a", "a ", "a\nb", "a\x00", strings.Repeat("x", MaxNameLength+1), "\xff"} {
		if err := ValidateName("token", bad); ErrorCode(err) != EInvalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	e := &Error{Code: EUnauthorized, Reason: ReasonInvalidSecret, Message: "no"}
	wrapped := fmt.Errorf("ctx: %w", e)
	if ErrorCode(wrapped) != EUnauthorized || ErrorReason(wrapped) != ReasonInvalidSecret || ErrorMessage(wrapped) != "no" {
		t.Fatal("helpers do not see through wrapping")
	}
	plain := errors.New("disk on fire")
	if ErrorCode(plain) != EInternal || ErrorMessage(plain) != "internal error" || ErrorCode(nil) != "" {
		t.Fatal("internal errors leak or are misclassified")
	}
}

func TestIDs(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || !ValidID(a) || a[14] != '4' {
		t.Fatalf("ids %s %s", a, b)
	}
	if ValidID("x") || ValidID(strings.ToUpper(a)) {
		t.Fatal("ValidID accepts bad ids")
	}
	if aud := NewAUD(); !ValidAUD(aud) || ValidAUD(aud[1:]) || ValidAUD(strings.ToUpper(aud)) || KeyID(aud, 3) != aud[:12]+".v3" {
		t.Fatalf("aud %s", aud)
	}
}
