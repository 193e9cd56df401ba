package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/filter/credential"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
)

func TestCreateListGetToken(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci-deploy", "")
	if !credential.ValidClientID(tok.ClientID) || !credential.ValidSecret(tok.ClientSecret) {
		t.Fatalf("credential shapes: %q %q", tok.ClientID, tok.ClientSecret)
	}
	if !domain.ValidID(tok.ID) || tok.Name != "ci-deploy" || tok.Duration != "8760h" || !tok.Enabled || tok.Status != "active" || tok.ClientSecretVersion != 1 {
		t.Fatalf("created token: %+v", tok)
	}
	if want := h.Now().Add(8760 * time.Hour); tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at %v, want %v", tok.ExpiresAt, want)
	}
	if !tok.CreatedAt.Equal(h.Now()) || tok.LastSeenAt != nil {
		t.Fatalf("created_at %v, last_seen_at %v", tok.CreatedAt, tok.LastSeenAt)
	}

	forever := h.createToken("forever", "forever")
	if forever.Duration != "forever" || forever.ExpiresAt != nil {
		t.Fatalf("forever token: %+v", forever)
	}
	short := h.createToken("short", "90m")
	if short.Duration != "1h30m0s" || !short.ExpiresAt.Equal(h.Now().Add(90*time.Minute)) {
		t.Fatalf("90m token: %+v", short)
	}

	var got apiv1.Token
	rec := h.call(request{method: "GET", path: "/v1/service-tokens/" + tok.ID}, 200, &got)
	want := tok
	want.ClientSecret = ""
	if !sameJSON(t, got, want) || strings.Contains(rec.Body.String(), tok.ClientSecret) {
		t.Fatalf("get:\n got %+v\nwant %+v", got, want)
	}
	if strings.Contains(rec.Body.String(), "hash") || strings.Contains(rec.Body.String(), "client_secret\"") {
		t.Fatalf("get shows a secret or hash field: %s", rec.Body.String())
	}

	var list apiv1.List[apiv1.Token]
	rec = h.call(request{method: "GET", path: "/v1/service-tokens"}, 200, &list)
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Name)
		if it.ClientSecret != "" {
			t.Fatalf("list shows a secret for %s", it.Name)
		}
	}
	if strings.Join(names, ",") != "ci-deploy,forever,short" || list.NextCursor != "" {
		t.Fatalf("list names %v, cursor %q", names, list.NextCursor)
	}
	for _, secret := range []string{tok.ClientSecret, forever.ClientSecret, short.ClientSecret} {
		if strings.Contains(rec.Body.String(), secret) {
			t.Fatal("list shows a secret")
		}
	}

	h.call(request{method: "GET", path: "/v1/service-tokens?limit=2"}, 200, &list)
	if len(list.Items) != 2 || list.NextCursor != "forever" {
		t.Fatalf("page 1: %d items, cursor %q", len(list.Items), list.NextCursor)
	}
	cursor := list.NextCursor
	list = apiv1.List[apiv1.Token]{}
	h.call(request{method: "GET", path: "/v1/service-tokens?limit=2&after=" + cursor}, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "short" || list.NextCursor != "" {
		t.Fatalf("page 2: %+v", list)
	}
	list = apiv1.List[apiv1.Token]{}
	h.call(request{method: "GET", path: "/v1/service-tokens?name=forever"}, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != forever.ID {
		t.Fatalf("filter by name: %+v", list)
	}
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func TestOnlyTheKeyedHashOfASecretIsStored(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	stored, err := h.store.GetToken(context.Background(), tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.SecretHash, h.keys.HashSecret(tok.ClientSecret)) {
		t.Fatal("stored hash is not the keyed hash of the secret")
	}
	h.store.Close() // flush the WAL
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(h.dbPath + suffix)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(tok.ClientSecret)) {
			t.Fatalf("database file %s holds the plaintext secret", suffix)
		}
	}
}

func TestDuplicateTokenNameIsAConflict(t *testing.T) {
	h := newHarness(t)
	first := h.createToken("ci", "")
	rec := h.call(request{method: "POST", path: "/v1/service-tokens", body: apiv1.CreateTokenRequest{Name: "ci"}}, 409, nil)
	if e := decodeError(t, rec); e.Error != "conflict" || !strings.Contains(e.Message, `"ci"`) {
		t.Fatalf("error %+v", e)
	}
	var list apiv1.List[apiv1.Token]
	h.call(request{method: "GET", path: "/v1/service-tokens"}, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != first.ID {
		t.Fatalf("tokens after the refused create: %+v", list.Items)
	}
	if n := len(h.audit("event=token.created")); n != 1 {
		t.Fatalf("%d token.created audit rows, want 1", n)
	}
}

func TestTokenCreatedAuditRow(t *testing.T) {
	h := newHarness(t)
	tok := h.createToken("ci", "")
	rows := h.audit("event=token.created")
	if len(rows) != 1 {
		t.Fatalf("audit rows %+v", rows)
	}
	r := rows[0]
	if r.Actor != "initial" || r.TokenID != tok.ID || r.TokenName != "ci" || r.ClientID != tok.ClientID || !r.Time.Equal(h.Now()) || r.RequestID == "" {
		t.Fatalf("audit row %+v", r)
	}
	assertNoSecretIn(t, h, tok.ClientSecret)
}

// assertNoSecretIn checks that no audit row and no log line holds the
// secret or any encoding of its hash.
func assertNoSecretIn(t *testing.T, h *harness, secret string) {
	t.Helper()
	hash := h.keys.HashSecret(secret)
	needles := []string{secret, hex.EncodeToString(hash), base64.StdEncoding.EncodeToString(hash), base64.RawURLEncoding.EncodeToString(hash)}
	rec := h.do(request{method: "GET", path: "/v1/audit?limit=1000"})
	for _, n := range needles {
		if strings.Contains(rec.Body.String(), n) {
			t.Fatalf("audit log holds a secret or its hash")
		}
		if strings.Contains(h.logs.String(), n) {
			t.Fatalf("logs hold a secret or its hash")
		}
	}
}
