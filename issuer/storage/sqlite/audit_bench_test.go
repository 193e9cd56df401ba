package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svcauth/svcauth/issuer/domain"
)

// BenchmarkAppendAudits measures the background audit writer's cost per
// exchange audit row: batches of 2 500 session.issued rows (200 ms of
// exchanges at 12 500/s) from 64 tokens of one application, into a table
// that already holds rows. ns/op is per row; cpu-ns/row is the process's
// CPU time per row (steadier than wall time on a shared machine).
func BenchmarkAppendAudits(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "svcauth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const batch = 2500
	tokens := make([]string, 64)
	for i := range tokens {
		tokens[i] = domain.NewID()
	}
	app := domain.NewID()
	pol := domain.NewID()
	now := time.Now()
	mk := func(n, seq int) []domain.AuditEvent {
		ev := make([]domain.AuditEvent, n)
		for i := range ev {
			k := seq + i
			ev[i] = domain.AuditEvent{
				Time: now.Add(time.Duration(k) * 80 * time.Microsecond), Event: domain.EventSessionIssued,
				Actor: domain.ActorExchange, TokenID: tokens[k%len(tokens)], TokenName: fmt.Sprintf("loadgen-abcdef-%d", k%len(tokens)),
				ClientID: "0123456789abcdef0123456789abcdef.access", AppID: app, AppName: "loadgen-abcdef", PolicyID: pol,
				SourceIP: "127.0.0.1", RequestID: fmt.Sprintf("%024x", k), Detail: fmt.Sprintf("jti %032x", k),
			}
		}
		return ev
	}
	// Warm the table up with rows, as a running issuer has.
	for i := 0; i < 20; i++ {
		if err := db.AppendAudits(ctx, mk(batch, i*batch)); err != nil {
			b.Fatal(err)
		}
	}
	seq := 20 * batch
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(batch, b.N-done)
		ev := mk(n, seq)
		b.StartTimer()
		c0 := processCPU()
		if err := db.AppendAudits(ctx, ev); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - c0
		done += n
		seq += n
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/row")
}

// processCPU is the process's CPU time (user and system) so far: a shared
// machine makes wall time noisy.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
