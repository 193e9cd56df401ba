// Package cache holds the filter's per-VM caches (SPEC §3 fast path) and
// the format of the shared credential table:
//
//   - Sessions: session JWTs whose signature already verified in this VM,
//     found by their exact text, so a cookie seen before costs no HMAC;
//   - Credentials: the session exchanged for a client id and secret pair,
//     found by the client id and a keyed 128-bit hash of the secret (no
//     secret is kept), so a header pair seen before costs no issuer call;
//   - EncodeShared / DecodeShared: the same entries as the proxy's worker
//     VMs share them through proxy shared data (the plugin does the I/O).
//
// A VM is single-threaded: nothing here locks. Expiry is checked on every
// hit (Session.Usable) and revocation by the plugin, so a cached entry never
// outlives either.
package cache
