package sessiontest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// JWTPart decodes part i (0 header, 1 claims) of jwt as a JSON object,
// independently of the session package's own parsing.
func JWTPart(t testing.TB, jwt string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts in a JWT, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
