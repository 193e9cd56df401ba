package conformance_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/conformance"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

// backend is one storage implementation under test. open returns a fresh,
// empty Storage for each conformance test.
type backend struct {
	name string
	open func(t *testing.T) storage.Storage
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// backends lists every storage backend. Each one runs the whole suite.
var backends = []backend{
	{name: "sqlite", open: func(t *testing.T) storage.Storage {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "svcauth.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
	// PostgreSQL: a fresh database for every test, on the server pgtest
	// starts (or $SVCAUTH_TEST_POSTGRES_DSN); it skips without one, unless
	// $SVCAUTH_REQUIRE_POSTGRES says it must run (CI).
	{name: "postgres", open: func(t *testing.T) storage.Storage {
		db, err := postgres.Open(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			conformance.RunTests(t, b.open)
		})
	}
}
