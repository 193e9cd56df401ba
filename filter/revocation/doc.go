// Package revocation is the filter's side of the sync protocol
// (filter/SYNC-PROTOCOL.md) without its I/O: the revocation state a sync
// answer installs and the checks every request makes against it (state.go),
// the keys a sync answer carries and which one signs the next sync request
// (keys.go), the parser of the answer (parse.go), and the two records the
// worker VMs of a proxy share: the poll lease that makes one VM per audience
// poll the issuer (lease.go) and the status record that tells the others a
// new state is there (status.go). The plugin dispatches the sync call,
// reads and writes shared data through a Store, and logs.
package revocation
