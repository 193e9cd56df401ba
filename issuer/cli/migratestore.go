package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/storage/migratestore"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
)

// sqlitePrefix introduces migrate-store's source: the scheme says which
// backend the path is for, as postgres:// does for the target.
const sqlitePrefix = "sqlite:"

func (a *app) migrateStoreCommand() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate-store",
		Short: "Copy an issuer's SQLite database into an empty PostgreSQL database",
		Long: `Copy everything an issuer stores — service tokens (with their secret hashes and
client ids), retired client ids, revocations, applications with their keys, policies,
admin keys and the audit log — from a SQLite file into an empty PostgreSQL database,
in one transaction, and print how many rows of each table were copied. Dashboard
sign-ins are not copied: operators sign in again.

Stop the issuer first (or copy from an online ".backup" of the file): writes made to
the source during the copy are not carried over. The source's schema is brought up to
date first, as "svcauth serve" would on start. The target's schema is created; a
target that already holds tokens, applications, admin keys or audit rows is refused
and left unchanged. Start the PostgreSQL issuers with the same master key as the
SQLite one: hashes and keys are copied as stored. The target's DSN comes from --to or,
to keep its password off the command line, $` + EnvDB + `.`,
		Example: `  svcauth migrate-store --from sqlite:/var/lib/svcauth/svcauth.db --to postgres://svcauth@db.internal/svcauth
  SVCAUTH_DB=postgres://svcauth:…@db.internal/svcauth svcauth migrate-store --from sqlite:./svcauth.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			path, ok := strings.CutPrefix(from, sqlitePrefix)
			if !ok || path == "" {
				return usagef("--from %q: want sqlite:PATH, the issuer's SQLite file", from)
			}
			if to == "" {
				to = a.getenv(EnvDB)
			}
			if !postgres.IsDSN(to) {
				return usagef("--to (or $%s): want a postgres:// or postgresql:// DSN", EnvDB)
			}
			if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
				return usagef("--from %q: no such SQLite file", from)
			}
			return fail(a.migrateStore(cmd, path, to))
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the source: sqlite:PATH")
	f.StringVar(&to, "to", "", "the target: an empty PostgreSQL database's postgres:// DSN ($"+EnvDB+" when not given)")
	return cmd
}

func (a *app) migrateStore(cmd *cobra.Command, path, dsn string) error {
	ctx := cmd.Context()
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	counts, err := migratestore.Copy(ctx, src.SQL(), dst.Pool)
	if err != nil {
		if errors.Is(err, migratestore.ErrTargetNotEmpty) {
			return fmt.Errorf("target %s: %w", postgres.Redact(dsn), postgres.ScrubError(err, dsn))
		}
		return fmt.Errorf("nothing was copied: %w", postgres.ScrubError(err, dsn))
	}
	if err := printList(a, counts, []string{"TABLE", "ROWS"}, func(c migratestore.Count) []string {
		return []string{c.Table, strconv.FormatInt(c.Rows, 10)}
	}); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "svcauth: copied %s into %s; start the issuers on it with the same master key\n", path, postgres.Redact(dsn))
	return nil
}
