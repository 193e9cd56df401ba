package ui_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// database is one database several issuer processes share.
type database struct {
	// open opens another, independent store on it: another replica, or
	// the same one started again.
	open func(t *testing.T) storage.Storage
	// tables lists its tables.
	tables string
	// files are its files on disk, when it has any (SQLite).
	files []string
}

func sqliteDatabase(t *testing.T) database {
	path := filepath.Join(t.TempDir(), "svcauth.db")
	return database{
		open: func(t *testing.T) storage.Storage {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		tables: `SELECT name FROM sqlite_master WHERE type = 'table'`,
		files:  []string{path, path + "-wal"},
	}
}

func postgresDatabase(t *testing.T) database {
	dsn := pgtest.DSN(t)
	return database{
		open: func(t *testing.T) storage.Storage {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		tables: `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`,
	}
}

// TestSessionsAcrossReplicasAndRestarts: a dashboard session works on
// every issuer on the database: another replica, and this one after a
// restart. One-time pages are shown once whichever replica serves them,
// sign-out on one ends the session on all, and the database never holds
// the cookie, the admin key or a client secret.
func TestSessionsAcrossReplicasAndRestarts(t *testing.T) {
	for name, db := range map[string]func(*testing.T) database{"sqlite": sqliteDatabase, "postgres": postgresDatabase} {
		t.Run(name, func(t *testing.T) { testSessionsAcrossReplicas(t, db(t)) })
	}
}

func testSessionsAcrossReplicas(t *testing.T, db database) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC))
	storeA := db.open(t)
	a := newHarnessOn(t, storeA, clock, nil)
	b := newHarnessOn(t, db.open(t), clock, nil)
	if a.adminKey == "" || b.adminKey != "" {
		t.Fatal("want the admin key made by the first replica only")
	}
	adminKey := a.adminKey
	b.adminKey = adminKey
	br := a.browser()
	br.login(adminKey)
	cookie := br.cookies["svcauth_ui"].Value

	// Signed in on A, the browser is signed in on B.
	br.h = b
	p := br.get("/ui/tokens")
	expect(t, p, http.StatusOK)
	if !strings.Contains(p.Body, "Signed in as <strong>initial</strong>") {
		t.Fatalf("replica B does not show the session's actor:\n%s", p.Body)
	}

	// A secret created through B waits in the database...
	p = br.post("/ui/tokens", url.Values{"name": {"nightly"}, "duration": {"720h"}})
	expect(t, p, http.StatusSeeOther)
	secretPage := p.location()
	if !strings.HasPrefix(secretPage, "/ui/secret/") {
		t.Fatalf("create redirected to %q", secretPage)
	}
	snapshot := dump(t, storeA, db.tables)

	// ...is shown once, by A, and then by no replica.
	br.h = a
	p = br.get(secretPage)
	expect(t, p, http.StatusOK)
	secret := field(t, clientSecretRE, p.Body)
	expect(t, br.get(secretPage), http.StatusGone)
	br.h = b
	expect(t, br.get(secretPage), http.StatusGone)

	// While the slot held it, the database held no credential, only the
	// cookie's hash and sealed values.
	sum := sha256.Sum256([]byte(cookie))
	for _, present := range []string{hex.EncodeToString(sum[:]), strings.TrimPrefix(secretPage, "/ui/secret/"), "initial"} {
		if !snapshot.holds(present) {
			t.Fatalf("the dump lacks %q: it did not read the session's rows", present)
		}
	}
	for what, v := range map[string]string{"cookie value": cookie, "admin key": adminKey, "client secret": secret} {
		if table := snapshot.find(v); table != "" {
			t.Fatalf("table %s holds the %s", table, what)
		}
	}

	// A message set by B is shown by A, once.
	tok := b.tokenNamed("nightly")
	br.h = b
	p = br.post("/ui/tokens/"+tok.ID+"/rename", url.Values{"name": {"nightly-2"}})
	expect(t, p, http.StatusSeeOther)
	br.h = a
	if p := br.get(p.location()); !strings.Contains(p.Body, "Renamed to nightly-2.") {
		t.Fatalf("A does not show B's message:\n%s", p.Body)
	}
	br.h = b
	if p := br.get("/ui/tokens"); strings.Contains(p.Body, "Renamed to nightly-2.") {
		t.Fatal("the message was shown twice")
	}

	// A restarts: a new process on the same database knows the session.
	if err := a.api.Close(ctx); err != nil {
		t.Fatal(err)
	}
	storeA.Close()
	c := newHarnessOn(t, db.open(t), clock, nil)
	br.h = c
	p = br.get("/ui/tokens")
	expect(t, p, http.StatusOK)
	if !strings.Contains(p.Body, "nightly-2") {
		t.Fatalf("after the restart:\n%s", p.Body)
	}

	// Signed out on C, the session is over on B too, even with the cookie.
	old := *br.cookies["svcauth_ui"]
	expect(t, br.post("/ui/logout", nil), http.StatusSeeOther)
	br.h = b
	br.cookies["svcauth_ui"] = &old
	if p := br.get("/ui/tokens"); p.Code != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/ui/login") {
		t.Fatalf("B after sign-out on C: %d %s", p.Code, p.location())
	}

	// Nothing of them was ever written to SQLite's files (deleted rows
	// included: their bytes stay in the pages and the write-ahead log).
	for _, f := range db.files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for what, v := range map[string]string{"cookie value": cookie, "admin key": adminKey, "client secret": secret} {
			if bytes.Contains(raw, []byte(v)) {
				t.Fatalf("%s holds the %s", filepath.Base(f), what)
			}
		}
	}
}

func (h *harness) tokenNamed(name string) apiv1.Token {
	h.t.Helper()
	var list apiv1.List[apiv1.Token]
	if code := h.apiCall("GET", "/v1/service-tokens?name="+url.QueryEscape(name), nil, &list); code != 200 || len(list.Items) != 1 {
		h.t.Fatalf("token %s: %d, %d found", name, code, len(list.Items))
	}
	return list.Items[0]
}

// tableDump is every value of every table, as bytes, by table.
type tableDump map[string][][]byte

func dump(t *testing.T, store storage.Storage, tablesQuery string) tableDump {
	t.Helper()
	db := store.(interface{ SQL() *sql.DB }).SQL()
	rows, err := db.Query(tablesQuery)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	out := tableDump{}
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					out[table] = append(out[table], v)
				case nil:
				default:
					out[table] = append(out[table], []byte(fmt.Sprint(v)))
				}
			}
		}
		rows.Close()
	}
	if len(out["ui_sessions"]) == 0 || len(out["ui_session_items"]) == 0 {
		t.Fatalf("no session or no item stored: %d session values, %d item values", len(out["ui_sessions"]), len(out["ui_session_items"]))
	}
	return out
}

// find returns a table holding v, as is or hex-encoded, or "".
func (d tableDump) find(v string) string {
	for table, vals := range d {
		for _, b := range vals {
			if bytes.Contains(b, []byte(v)) || bytes.Contains(b, []byte(hex.EncodeToString([]byte(v)))) {
				return table
			}
		}
	}
	return ""
}

func (d tableDump) holds(v string) bool { return d.find(v) != "" }
