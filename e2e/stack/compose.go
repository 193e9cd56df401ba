package stack

// ExistingIssuer returns an Issuer for an issuer that is already running
// elsewhere (e.g. in docker compose) at url, for its CLI helpers (CreateApp,
// CreateToken, WriteFilterConfig, …), which run binDir/svcauth. It has no
// process: do not call Start, Stop or Output on it.
func ExistingIssuer(url, adminKey, binDir string) *Issuer {
	return &Issuer{URL: url, AdminKey: adminKey, binDir: binDir}
}
