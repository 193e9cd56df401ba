package conformance_test

import (
	"testing"

	"github.com/svcauth/svcauth/issuer/internal/testenv"
	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/conformance"
	"github.com/svcauth/svcauth/issuer/storage/postgres/pgtest"
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
	{name: "sqlite", open: func(t *testing.T) storage.Storage { return testenv.SQLite(t) }},
	// PostgreSQL: a fresh database for every test, on the server pgtest
	// starts (or $SVCAUTH_TEST_POSTGRES_DSN); it skips without one, unless
	// $SVCAUTH_REQUIRE_POSTGRES says it must run (CI).
	{name: "postgres", open: func(t *testing.T) storage.Storage { return pgtest.Open(t) }},
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			conformance.RunTests(t, b.open)
		})
	}
}
