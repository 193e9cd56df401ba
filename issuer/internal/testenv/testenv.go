// Package testenv is what the issuer's tests share to stand up a real
// issuer in process: a SQLite store in the test's temporary directory, a
// keyring from a fixed master key, and a clock the test moves. (Tests of
// several packages built the same three things each; this is the one
// copy.)
package testenv

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

// SQLite opens a fresh database in t's temporary directory, closed when the
// test ends.
func SQLite(t testing.TB) *sqlite.DB {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "svcauth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// Keyring is the keyring of a master key of fill bytes: tests that need two
// issuers with different keys pass different fills.
func Keyring(t testing.TB, fill byte) *keys.Keyring {
	t.Helper()
	kr, err := keys.New(bytes.Repeat([]byte{fill}, keys.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// Clock is a time that moves only when the test says so; Now is what
// api.Config.Now takes.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
