package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/api"
	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/keys"
	"github.com/svcauth/svcauth/issuer/storage"
	"github.com/svcauth/svcauth/issuer/storage/postgres"
	"github.com/svcauth/svcauth/issuer/storage/sqlite"
	"github.com/svcauth/svcauth/issuer/throttle"
	"github.com/svcauth/svcauth/issuer/ui"
)

// serveOptions are the flags of svcauth serve.
type serveOptions struct {
	listen        string
	db            string
	issuerURL     string
	dbGiven       bool
	masterKeyFile string
	adminKeyFile  string
	logLevel      string
	flushEvery    time.Duration

	auditRetention   time.Duration
	inactiveDays     int
	inactiveAction   string
	maintenanceEvery time.Duration
	cacheTTL         time.Duration

	throttleBurst  int
	throttleRefill time.Duration
	throttleKeys   int
	trustedProxies []string
	denialWindow   time.Duration
}

// ShutdownTimeout is how long serve waits for open requests (and the
// last audit and last_seen writes) after SIGINT or SIGTERM; the Kubernetes
// manifests' grace periods are checked against it.
const ShutdownTimeout = 10 * time.Second

// DefaultAuditRetention keeps audit events for 400 days: a year and a
// quarter covers a yearly audit, and the database stops growing.
const DefaultAuditRetention = 400 * 24 * time.Hour

func (a *app) serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the issuer (HTTP API, exchange endpoint, metrics)",
		Long: `Run the svcauth issuer until SIGINT or SIGTERM.

State lives in one SQLite file (--db, the default) or, for several replicas, in
PostgreSQL (--db postgres://user@host/db, or $` + EnvDB + ` to keep the password off the
command line; the password is never logged). Session keys and secret hashes are derived
from a master key: $` + keys.EnvMasterKey + ` (base64 of 32 bytes) or --master-key-file,
which is generated (mode 0600) when it does not exist. Keep it safe and backed up:
without it no stored secret can be checked.

On the first start an admin key is generated, only its hash is stored, and it is
printed once to stderr as "svcauth: admin key (shown once): <key>"; with
--admin-key-file it is also written to that file (mode 0600). If that file already
holds an admin key on the first start, that key is adopted instead.`,
		Example: `  svcauth serve
  svcauth serve --listen 0.0.0.0:8081 --db /var/lib/svcauth/svcauth.db \
    --issuer-url https://svcauth.internal --master-key-file /etc/svcauth/master.key \
    --admin-key-file /etc/svcauth/admin.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.issuerURL != "" {
				if u, err := url.Parse(o.issuerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usagef("--issuer-url %q: want an absolute http(s) URL", o.issuerURL)
				}
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
				return usagef("--log-level %q: want debug, info, warn or error", o.logLevel)
			}
			if o.flushEvery <= 0 || o.maintenanceEvery <= 0 || o.cacheTTL <= 0 {
				return usagef("--last-seen-flush, --maintenance-interval and --cache-ttl must be positive")
			}
			if o.auditRetention < 0 {
				return usagef("--audit-retention must not be negative")
			}
			if o.throttleBurst < 0 || o.throttleRefill <= 0 || o.throttleKeys < 1000 {
				return usagef("--throttle-burst must not be negative (0 turns throttling off), --throttle-refill must be positive, --throttle-keys at least 1000")
			}
			if o.denialWindow < time.Second || o.denialWindow > time.Hour {
				return usagef("--audit-denial-window must be between 1s and 1h")
			}
			if _, err := parseTrustedProxies(o.trustedProxies); err != nil {
				return usagef("--trusted-proxies: %v", err)
			}
			if err := api.ValidateInactiveCleanup(o.inactiveDays, o.inactiveAction); err != nil {
				return usagef("--inactive-token-days/--inactive-token-action: %v", err)
			}
			o.dbGiven = cmd.Flags().Changed("db")
			return fail(a.serve(cmd.Context(), o, level))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8081", "address to listen on")
	f.StringVar(&o.db, "db", "./svcauth.db", "SQLite database file, or a postgres:// DSN for several replicas ($"+EnvDB+" when not given)")
	f.StringVar(&o.issuerURL, "issuer-url", "", "iss claim of session JWTs (default http://<listen address>)")
	f.StringVar(&o.masterKeyFile, "master-key-file", "./svcauth.master.key", "master key file, created when absent ($"+keys.EnvMasterKey+" overrides)")
	f.StringVar(&o.adminKeyFile, "admin-key-file", "", "on first start, write the generated admin key to this file (0600)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.DurationVar(&o.flushEvery, "last-seen-flush", 10*time.Second, "how often tokens' last_seen_at is written")
	f.DurationVar(&o.auditRetention, "audit-retention", DefaultAuditRetention, "delete audit events older than this (400 days); 0 keeps them all")
	f.IntVar(&o.inactiveDays, "inactive-token-days", 0, "disable or delete tokens unused for this many days (30 to 365); 0 is off")
	f.StringVar(&o.inactiveAction, "inactive-token-action", "disable", "what to do with inactive tokens: disable or delete")
	f.DurationVar(&o.maintenanceEvery, "maintenance-interval", time.Hour, "how often audit retention and inactive-token clean-up run")
	f.DurationVar(&o.cacheTTL, "cache-ttl", api.DefaultCacheTTL, "how long exchanges trust tokens and apps cached in memory; changes through this issuer apply at once, the TTL bounds how long another replica's changes take")
	f.IntVar(&o.throttleBurst, "throttle-burst", throttle.DefaultBurst, "failed exchanges allowed at once per client id and per source before 429 too_many_failures; 0 turns throttling off")
	f.DurationVar(&o.throttleRefill, "throttle-refill", throttle.DefaultRefill, "after the burst, one more failed exchange is allowed per key every this long")
	f.IntVar(&o.throttleKeys, "throttle-keys", throttle.DefaultMaxKeys, "client ids and sources remembered by each failure limit (least recently failing forgotten first)")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxies", nil, "CIDRs of the peers (Envoys) whose forwarded client address exchanges are throttled by (default loopback and private ranges); from other peers, the peer is the source")
	f.DurationVar(&o.denialWindow, "audit-denial-window", api.DefaultDenialWindow, "identical denied exchanges within this window are one audit row (with a count) and one log line")
	return cmd
}

// openStore opens db: a PostgreSQL DSN or a SQLite file. name is what logs
// may show of it (the DSN without its password).
func openStore(ctx context.Context, db string) (storage.Storage, string, error) {
	if postgres.IsDSN(db) {
		s, err := postgres.Open(ctx, db)
		return s, postgres.Redact(db), err
	}
	s, err := sqlite.Open(ctx, db)
	return s, db, err
}

// parseTrustedProxies parses --trusted-proxies; none gives nil (the
// default ranges).
func parseTrustedProxies(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR (e.g. 10.0.0.0/8)", c)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (a *app) serve(ctx context.Context, o serveOptions, level slog.Level) error {
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	tuneRuntime()

	master, source, err := keys.LoadMaster(o.masterKeyFile, a.getenv(keys.EnvMasterKey))
	if err != nil {
		return err
	}
	switch source {
	case keys.SourceGenerated:
		log.Info("generated a new master key; back it up", "file", o.masterKeyFile)
	case keys.SourceFile:
		if st, err := os.Stat(o.masterKeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("master key file is readable by group or others; chmod 600 it", "file", o.masterKeyFile, "mode", st.Mode().Perm().String())
		}
	case keys.SourceEnv:
		log.Info("master key taken from the environment", "var", keys.EnvMasterKey)
	}
	kr, err := keys.New(master)
	if err != nil {
		return err
	}

	db := o.db
	if !o.dbGiven {
		if env := a.getenv(EnvDB); env != "" {
			db = env
		}
	}
	store, dbName, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer store.Close()

	adopt := ""
	if o.adminKeyFile != "" {
		b, err := os.ReadFile(o.adminKeyFile)
		switch {
		case err == nil:
			adopt = strings.TrimSpace(string(b))
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("admin key file: %w", err)
		}
	}
	adminKey, generated, err := api.EnsureInitialAdminKey(ctx, store, kr, time.Now(), adopt)
	if err != nil {
		return fmt.Errorf("initial admin key: %w", err)
	}
	switch {
	case generated:
		fmt.Fprintf(a.stderr, "svcauth: admin key (shown once): %s\n", adminKey)
		if o.adminKeyFile != "" {
			if err := keys.WriteSecretFile(o.adminKeyFile, adminKey+"\n"); err != nil {
				return fmt.Errorf("writing the admin key file: %w", err)
			}
			log.Info("wrote the admin key", "file", o.adminKeyFile)
		}
	case adminKey != "":
		log.Info("adopted the admin key from its file", "file", o.adminKeyFile)
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	issuerURL := o.issuerURL
	if issuerURL == "" {
		issuerURL = "http://" + ln.Addr().String()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	trusted, _ := parseTrustedProxies(o.trustedProxies) // checked with the flags
	srv, err := api.New(api.Config{Storage: store, Keys: kr, IssuerURL: issuerURL, Logger: log, Now: time.Now, Registry: reg, CacheTTL: o.cacheTTL,
		Throttle:       throttle.Config{Burst: o.throttleBurst, Refill: o.throttleRefill, MaxKeys: o.throttleKeys},
		ThrottleOff:    o.throttleBurst == 0,
		TrustedProxies: trusted,
		DenialWindow:   o.denialWindow})
	if err != nil {
		ln.Close()
		return err
	}
	dashboard, err := ui.New(ui.Config{API: srv, Authenticate: srv.AuthenticateAdminKey, Sessions: store, Logger: log, Istio: &ui.Istio{
		Cluster:   IstioCluster(IstioIssuerHost, IstioIssuerPort),
		Authority: fmt.Sprintf("%s:%d", IstioIssuerHost, IstioIssuerPort),
		Render: func(app apiv1.App, cfg json.RawMessage) ([]byte, error) {
			return istioWasmPlugin(app, cfg, istioOptions{wasmURL: DefaultIstioWasmURL})
		},
	}})
	if err != nil {
		ln.Close()
		return err
	}
	root := http.NewServeMux()
	root.Handle(ui.Prefix, dashboard)
	root.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusSeeOther))
	root.Handle("/", srv)
	hs := srv.HTTPServer(root)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("svcauth issuer listening", "addr", ln.Addr().String(), "issuer_url", issuerURL, "db", dbName)
	log.Info("dashboard", "url", strings.TrimSuffix(issuerURL, "/")+ui.Prefix)

	claim := func() bool { return true } // one replica: always this one
	if pg, ok := store.(*postgres.DB); ok {
		// Other replicas' changes reach this one's caches at once.
		go pg.Listen(ctx, srv.ExternalChange, nil, log.Warn)
		claim = func() bool {
			ok, err := pg.ClaimMaintenance(ctx, "maintenance", o.maintenanceEvery, time.Now())
			if err != nil {
				log.Warn("cannot tell whether another replica runs the maintenance; skipping it this time", "err", err)
			}
			return ok
		}
	}
	maintain := func() {
		if !claim() {
			return // another replica ran it within the interval
		}
		if n, err := srv.PruneAudit(ctx, o.auditRetention); err != nil {
			log.Warn("audit retention failed", "err", err)
		} else if n > 0 {
			log.Info("deleted old audit events", "count", n)
		}
		if _, err := srv.CleanupInactiveTokens(ctx, o.inactiveDays, o.inactiveAction); err != nil {
			log.Warn("inactive-token clean-up failed", "err", err)
		}
		if _, err := srv.PruneRevocations(ctx); err != nil {
			log.Warn("pruning old token revocations failed", "err", err)
		}
	}
	maintain()
	maintenance := time.NewTicker(o.maintenanceEvery)
	defer maintenance.Stop()
	flush := time.NewTicker(o.flushEvery)
	defer flush.Stop()
	for {
		select {
		case err := <-served:
			return err
		case <-maintenance.C:
			maintain()
		case <-flush.C:
			if err := srv.FlushLastSeen(ctx); err != nil {
				log.Warn("writing last_seen_at failed; will retry", "err", err)
			}
		case <-ctx.Done():
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
			defer cancel()
			err := hs.ShutdownWithContext(sctx)
			if ferr := srv.Close(sctx); ferr != nil {
				log.Warn("writing queued audit events and last_seen_at failed at shutdown", "err", ferr)
			}
			if err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			log.Info("stopped")
			return nil
		}
	}
}
