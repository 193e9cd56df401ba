package credential

import (
	"hash/crc32"
	"strings"
	"testing"
)

func TestGeneratedCredentialsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		id, secret := NewClientID(), NewSecret()
		if !ValidClientID(id) {
			t.Fatalf("generated client id %q is not valid", id)
		}
		if !ValidSecret(secret) || len(secret) != SecretLength || !strings.HasPrefix(secret, SecretPrefix) {
			t.Fatalf("generated secret of length %d is not valid", len(secret))
		}
		if seen[secret] {
			t.Fatal("generated the same secret twice")
		}
		seen[secret] = true
	}
}

func TestSecretChecksumCatchesEverySingleCharacterTypo(t *testing.T) {
	secret := NewSecret()
	for i := len(SecretPrefix); i < len(secret); i++ {
		for _, c := range []byte(base62) {
			if c == secret[i] {
				continue
			}
			typo := secret[:i] + string(c) + secret[i+1:]
			if ValidSecret(typo) {
				t.Fatalf("secret with position %d changed to %q still passes", i, c)
			}
		}
	}
}

func TestValidSecretShapes(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	cases := []struct {
		name string
		in   string
		want bool
	}{
		{"cloudflare 64 hex", hex64, true},
		{"uppercase hex", strings.ToUpper(hex64), false},
		{"63 hex", hex64[:63], false},
		{"empty", "", false},
		{"prefix only", SecretPrefix, false},
		{"non-base62 body", SecretPrefix + strings.Repeat("-", secretBodyLen+checksumLen), false},
		{"wrong prefix", "svcauth_xx_" + NewSecret()[len(SecretPrefix):], false},
	}
	for _, tc := range cases {
		if got := ValidSecret(tc.in); got != tc.want {
			t.Errorf("%s: ValidSecret = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidClientIDShapes(t *testing.T) {
	cases := map[string]bool{
		"0123456789abcdef0123456789abcdef.access":  true,
		"0123456789ABCDEF0123456789abcdef.access":  false,
		"0123456789abcdef0123456789abcde.access":   false,
		"0123456789abcdef0123456789abcdef.accesss": false,
		"0123456789abcdef0123456789abcdefXaccess":  false,
		"": false,
	}
	for in, want := range cases {
		if got := ValidClientID(in); got != want {
			t.Errorf("ValidClientID(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestCRCIsIEEE: the checksum's hand-rolled loop is CRC-32 IEEE, so secrets
// issued before it (checked with crc32.ChecksumIEEE) stay valid.
func TestCRCIsIEEE(t *testing.T) {
	for _, s := range []string{"", "a", "svcauth_cs_", NewSecret(), strings.Repeat("0123456789", 20)} {
		if got, want := crcIEEE(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("crcIEEE(%q) = %08x, want %08x", s, got, want)
		}
		if got, want := crcIEEE([]byte(s)), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("crcIEEE([]byte(%q)) = %08x, want %08x", s, got, want)
		}
	}
}

// TestPlausibleLengths: every valid pair passes the length check, and the
// check refuses lengths no valid credential has.
func TestPlausibleLengths(t *testing.T) {
	id, secret := NewClientID(), NewSecret()
	legacy := strings.Repeat("ab", 32)
	if !PlausibleLengths(id, secret) || !PlausibleLengths(id, legacy) {
		t.Fatal("valid credentials refused")
	}
	for _, c := range [][2]string{{id + "x", secret}, {id, secret + "x"}, {id, secret[1:]}, {"", ""}, {id, legacy[1:]}} {
		if PlausibleLengths(c[0], c[1]) {
			t.Errorf("lengths %d, %d accepted", len(c[0]), len(c[1]))
		}
	}
}

func TestValidAudience(t *testing.T) {
	aud := strings.Repeat("0123456789abcdef", 4)
	if !ValidAudience(aud) {
		t.Fatal("a 64-hex audience refused")
	}
	for _, bad := range []string{"", aud[1:], aud + "0", strings.ToUpper(aud), aud[:63] + "g"} {
		if ValidAudience(bad) {
			t.Errorf("ValidAudience(%q) = true", bad)
		}
	}
}
