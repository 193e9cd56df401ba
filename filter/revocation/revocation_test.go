package revocation

import (
	"errors"
	"testing"

	"github.com/svcauth/svcauth/filter/cache"
)

// TestAdmitsRemembersPerState: Admits skips the lookups only for the state
// that admitted the session; a newly installed state (a new gen) that
// revokes it refuses it, and an uninstalled state (gen 0) is always asked.
func TestAdmitsRemembersPerState(t *testing.T) {
	s := &cache.Session{IAT: 100, Exp: 1000, TokenID: "tok-1"}
	first := (&State{}).Install(None)
	if !first.Admits(s) || s.AdmittedBy != 1 {
		t.Fatalf("first state: admitted %v by %d", first.Admits(s), s.AdmittedBy)
	}
	second := (&State{revoked: map[string]int64{"tok-1": 100}}).Install(first)
	if second.Admits(s) {
		t.Fatal("a newer state that revokes the session admitted it")
	}
	third := (&State{disabled: map[string]struct{}{"tok-1": {}}}).Install(second)
	if third.Admits(s) {
		t.Fatal("a newer state that disables the token admitted it")
	}
	uninstalled := &State{revoked: map[string]int64{"tok-1": 100}}
	s.AdmittedBy = 0
	if uninstalled.Admits(s) {
		t.Fatal("gen 0 state skipped its lookups")
	}
}

// TestStatusRoundTrip: the shared status record reads back as written, an
// empty etag included, and a damaged one is refused.
func TestStatusRoundTrip(t *testing.T) {
	for _, st := range []Status{{}, {Gen: 7, LastSuccess: 1700000000, DownSince: 1700000100, ETag: "g42"}} {
		if got, ok := DecodeStatus(st.Encode()); !ok || got != st {
			t.Fatalf("round trip of %+v: %+v %v", st, got, ok)
		}
	}
	for _, bad := range []string{"", "1 2 3", "x 2 3 -", "1 2 3 - extra"} {
		if _, ok := DecodeStatus([]byte(bad)); ok {
			t.Fatalf("DecodeStatus(%q) accepted", bad)
		}
	}
}

// fakeStore is shared data with Envoy's semantics (a new key ignores the
// CAS; CAS 0 on an existing key writes unconditionally).
type fakeStore struct {
	data map[string]fakeValue
	cas  uint32
}

type fakeValue struct {
	value []byte
	cas   uint32
}

var errCAS = errors.New("cas mismatch")

func (s *fakeStore) Get(key string) ([]byte, uint32, error) {
	v, ok := s.data[key]
	if !ok {
		return nil, 0, nil
	}
	return append([]byte(nil), v.value...), v.cas, nil
}

func (s *fakeStore) Set(key string, value []byte, cas uint32) error {
	if v, ok := s.data[key]; ok && cas != 0 && cas != v.cas {
		return errCAS
	}
	s.cas++
	s.data[key] = fakeValue{append([]byte(nil), value...), s.cas}
	return nil
}

// TestPollLease plays three VMs against one store: exactly one polls per
// tick; when it stops, another takes over within StaleTicks ticks; a
// released lease is taken on the next tick.
func TestPollLease(t *testing.T) {
	store := &fakeStore{data: map[string]fakeValue{}}
	vms := make([]*Lease, 3)
	for i := range vms {
		l := NewLease(store, "svcauth/v1/app/lease", AllocateVMID(store, "svcauth/v1/vm-seq"))
		vms[i] = &l
	}
	if vms[0].VMID() == vms[1].VMID() || vms[1].VMID() == vms[2].VMID() {
		t.Fatalf("VM ids not distinct: %d %d %d", vms[0].VMID(), vms[1].VMID(), vms[2].VMID())
	}
	tick := func(active []*Lease) (pollers []uint64, takeovers int) {
		for _, l := range active {
			poll, took := l.Take()
			if poll {
				pollers = append(pollers, l.VMID())
			}
			if took {
				takeovers++
			}
		}
		return pollers, takeovers
	}
	for i := 0; i < 5; i++ {
		if p, took := tick(vms); len(p) != 1 || p[0] != vms[0].VMID() || took != 0 {
			t.Fatalf("tick %d: pollers %v (%d takeovers), want only VM %d", i, p, took, vms[0].VMID())
		}
	}
	// VM 0 stops ticking (stuck or gone without releasing).
	rest := vms[1:]
	taken := -1
	for i := 0; i < StaleTicks+1; i++ {
		p, took := tick(rest)
		if len(p) > 1 {
			t.Fatalf("two pollers %v", p)
		}
		if len(p) == 1 {
			if took != 1 {
				t.Fatalf("lease taken over without saying so (%d takeovers)", took)
			}
			taken = i
			break
		}
	}
	if taken < 0 {
		t.Fatal("nobody took over the stale lease")
	}
	// Taken on exactly the StaleTicks-th tick without a renewal, not
	// before; and that must be more than one tick, or a holder whose tick is
	// merely late would lose the lease and two VMs would poll.
	if taken+1 != StaleTicks || StaleTicks < 2 {
		t.Fatalf("lease taken over on tick %d of staleness (StaleTicks %d)", taken+1, StaleTicks)
	}
	if p, _ := tick(rest); len(p) != 1 {
		t.Fatalf("after takeover: pollers %v", p)
	}
	var holder *Lease
	for _, l := range rest {
		if l.Holding() {
			holder = l
		}
	}
	holder.Release()
	var other []*Lease
	for _, l := range rest {
		if l != holder {
			other = append(other, l)
		}
	}
	if p, _ := tick(other); len(p) != 1 {
		t.Fatalf("released lease not taken at once: %v", p)
	}
}
