// Package headers reads what the filter needs from a request's headers in
// one pass: the session tokens (cookies of the configured name and the
// token header), the credential headers, whether a header the filter strips
// is present, and, when the configuration needs them, the path, the method
// and the CORS preflight headers.
//
// Inside wasm, comparing every header name with a dozen others costs
// microseconds per request, so an Index built once from the configuration
// rules most headers out with two table lookups (index.go). Inside the
// module the headers are read where the host wrote them, from the
// serialised map of proxy_get_header_map_pairs (serialized.go); natively,
// from the SDK's list of pairs. Nothing here allocates on a request.
package headers
