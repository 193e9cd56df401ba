package revocation

import (
	"strconv"
	"strings"
)

// Store is proxy shared data, with Envoy's semantics: Get of a missing key
// is (nil, 0, nil); Set with a CAS other than the key's current one fails,
// except that a new key ignores the CAS and CAS 0 writes unconditionally.
type Store interface {
	Get(key string) (value []byte, cas uint32, err error)
	Set(key string, value []byte, cas uint32) error
}

// StaleTicks is how many of its own ticks a VM waits for a held lease to
// change before it takes the lease over.
const StaleTicks = 3

// Lease is one VM's view of the poll lease, the shared record
//
//	"<vm id> <beat>"
//
// that names the VM polling the issuer for an audience and a counter it
// bumps every tick. Another VM that sees the same value for StaleTicks of
// its own ticks takes the lease over with a CAS write, so a VM that stopped
// (or a plugin that was reconfigured away) is replaced within a few periods,
// without any clock.
type Lease struct {
	store      Store
	key        string
	vmID       uint64
	holding    bool
	lastSeen   string // the lease value last seen held by another VM
	staleTicks int    // ticks it has not changed
}

// NewLease is the lease under key for the VM numbered vmID.
func NewLease(store Store, key string, vmID uint64) Lease {
	return Lease{store: store, key: key, vmID: vmID}
}

// VMID is the number of this lease's VM.
func (l *Lease) VMID() uint64 { return l.vmID }

// Holding reports whether this VM held the lease at its last Take.
func (l *Lease) Holding() bool { return l.holding }

// Take renews, takes or leaves the lease on a tick, and reports whether
// this VM is to poll on it; tookOver is true when it just took the lease
// from another VM (stale or released).
func (l *Lease) Take() (poll, tookOver bool) {
	v, cas, err := l.store.Get(l.key)
	if err != nil {
		l.holding = false
		return false, false
	}
	holder, beat := parseLease(v)
	me := l.vmID
	switch {
	case holder == me:
		l.holding = l.store.Set(l.key, leaseValue(me, beat+1), cas) == nil
	case holder == 0 && v == nil:
		// First poller of this proxy. In Envoy a new key ignores the CAS, so
		// two VMs can both create it: read back who won.
		if l.store.Set(l.key, leaseValue(me, 1), 0) == nil {
			v2, _, err := l.store.Get(l.key)
			h2, _ := parseLease(v2)
			l.holding = err == nil && h2 == me
		}
	default:
		if holder != 0 && string(v) != l.lastSeen {
			l.lastSeen, l.staleTicks = string(v), 0
			l.holding = false
			return false, false
		}
		// Released (holder 0) or stale: take it over.
		l.staleTicks++
		if holder != 0 && l.staleTicks < StaleTicks {
			l.holding = false
			return false, false
		}
		l.holding = l.store.Set(l.key, leaseValue(me, beat+1), cas) == nil
		l.staleTicks = 0
		tookOver = l.holding
	}
	return l.holding, tookOver
}

// Release hands the lease back when the plugin stops, so that another VM
// takes it on its next tick.
func (l *Lease) Release() {
	if !l.holding {
		return
	}
	v, cas, err := l.store.Get(l.key)
	if holder, beat := parseLease(v); err == nil && holder == l.vmID {
		_ = l.store.Set(l.key, leaseValue(0, beat+1), cas)
	}
	l.holding = false
}

func leaseValue(holder, beat uint64) []byte {
	b := strconv.AppendUint(make([]byte, 0, 24), holder, 10)
	b = append(b, ' ')
	return strconv.AppendUint(b, beat, 10)
}

func parseLease(v []byte) (holder, beat uint64) {
	s := string(v)
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return 0, 0
	}
	holder, _ = strconv.ParseUint(s[:i], 10, 64)
	beat, _ = strconv.ParseUint(s[i+1:], 10, 64)
	return holder, beat
}

// AllocateVMID numbers a VM with a CAS increment of the shared counter at
// key: VM ids must differ across the worker VMs of one proxy, and random
// numbers are not a given (a host may seed the module's random source
// identically).
func AllocateVMID(store Store, key string) uint64 {
	for i := 0; i < 16; i++ {
		v, cas, err := store.Get(key)
		if err != nil {
			break
		}
		n, _ := strconv.ParseUint(string(v), 10, 64)
		n++
		if store.Set(key, strconv.AppendUint(nil, n, 10), cas) == nil {
			return n
		}
	}
	return 1
}
