package conformance_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/conformance"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

// backend is one storage implementation under test. open returns a fresh,
// empty Storage for each conformance test; dsnEnv, when set, names the
// environment variable without which the backend is skipped.
type backend struct {
	name   string
	dsnEnv string
	open   func(t *testing.T, dsn string) storage.Storage
}

// backends lists every storage backend. Each one runs the whole suite.
var backends = []backend{
	{name: "sqlite", open: func(t *testing.T, _ string) storage.Storage {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "svcauth.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
	// PostgreSQL needs a server: it runs only when $SVCAUTH_TEST_POSTGRES_DSN
	// is set. open stays nil until the backend exists; it will give every
	// test a fresh schema in that database.
	{name: "postgres", dsnEnv: conformance.EnvPostgresDSN},
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := ""
			if b.dsnEnv != "" {
				if dsn = os.Getenv(b.dsnEnv); dsn == "" {
					t.Skipf("set $%s to run the %s conformance tests", b.dsnEnv, b.name)
				}
			}
			if b.open == nil {
				t.Skipf("$%s is set, but this build has no %s backend yet", b.dsnEnv, b.name)
			}
			conformance.RunTests(t, func(t *testing.T) storage.Storage { return b.open(t, dsn) })
		})
	}
}
