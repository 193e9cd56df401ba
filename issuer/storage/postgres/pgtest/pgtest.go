// Package pgtest gives tests a real PostgreSQL server: the one named by
// $SVCAUTH_TEST_POSTGRES_DSN, or a throwaway cluster this process starts
// (initdb + pg_ctl from Debian's postgresql package, in a temporary
// directory, on a free loopback port) and stops when its tests end. Each
// test gets a fresh database of its own.
//
// Without a server, tests skip with a message; with $SVCAUTH_REQUIRE_POSTGRES
// set (CI), they fail instead, so that a machine without PostgreSQL cannot
// pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svcauth/svcauth/issuer/storage/postgres"
)

// Environment variables.
const (
	EnvDSN     = "SVCAUTH_TEST_POSTGRES_DSN"
	EnvRequire = "SVCAUTH_REQUIRE_POSTGRES"
)

var (
	once    sync.Once
	baseDSN string // a DSN of the server's maintenance database
	why     string // why there is no server
	cluster *localCluster
)

// Main runs a test binary's tests and stops the cluster they started:
// call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the throwaway cluster, if this process started one: for a
// TestMain that does more than Main.
func Stop() {
	if cluster != nil {
		cluster.stop()
		cluster = nil
	}
}

// Open opens the storage on a new, empty database for t (DSN), closed when
// t ends.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// DSN returns the DSN of a new, empty database for t, dropped when t ends
// (with a throwaway cluster, the whole cluster goes at the end instead).
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if baseDSN == "" {
		if os.Getenv(EnvRequire) != "" {
			t.Fatalf("PostgreSQL is required ($%s is set) but unavailable: %s", EnvRequire, why)
		}
		t.Skipf("no PostgreSQL server (%s); set $%s or install Debian's postgresql package", why, EnvDSN)
	}
	name := "svcauth_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, baseDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, baseDSN); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, _ := url.Parse(baseDSN)
	u.Path = "/" + name
	return u.String()
}

func start() {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		baseDSN = dsn
		return
	}
	c, err := startCluster()
	if err != nil {
		why = err.Error()
		return
	}
	cluster, baseDSN = c, c.dsn
}

// localCluster is a throwaway PostgreSQL cluster.
type localCluster struct {
	dir, bin, dsn string
	asUser        string // run the server as this user (root may not)
}

// binDir finds initdb and pg_ctl: on $PATH, else in Debian's versioned
// directories (newest first).
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("initdb and pg_ctl not found")
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func startCluster() (*localCluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "svcauth-pg-")
	if err != nil {
		return nil, err
	}
	c := &localCluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: use the account Debian's
		// package creates.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, errors.New("running as root and there is no postgres user to run the server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.asUser = "postgres"
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "svcauth", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	if out, err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	c.dsn = fmt.Sprintf("postgres://svcauth@127.0.0.1:%d/postgres?sslmode=disable", port)
	return c, nil
}

func (c *localCluster) run(tool string, args ...string) (string, error) {
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (c *localCluster) stop() {
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// StartServer starts a throwaway cluster outside of tests (the issuer's
// load generator): the DSN of its maintenance database, and the function
// that stops it and removes its files.
func StartServer() (dsn string, stop func(), err error) {
	c, err := startCluster()
	if err != nil {
		return "", nil, err
	}
	return c.dsn, c.stop, nil
}
