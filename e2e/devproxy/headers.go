package devproxy

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
)

// hopByHop are connection-specific headers, which Envoy removes before any
// filter sees a request or response.
var hopByHop = map[string]bool{
	"connection":        true,
	"keep-alive":        true,
	"proxy-connection":  true,
	"transfer-encoding": true,
	"upgrade":           true,
	"te":                true,
	"trailer":           true,
}

func isHopByHop(name string) bool { return hopByHop[strings.ToLower(name)] }

// requestHeaders builds what Envoy hands a filter: lower-case names, the
// pseudo-headers first, every value of a repeated header as its own pair,
// connection-specific headers removed, x-request-id generated and
// x-forwarded-proto set when absent (the connection manager does both before
// any filter runs).
func requestHeaders(r *http.Request) [][2]string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := r.RequestURI
	if !strings.HasPrefix(path, "/") {
		path = r.URL.RequestURI() // absolute-form request target
	}
	out := [][2]string{
		{":authority", r.Host},
		{":path", path},
		{":method", r.Method},
		{":scheme", scheme},
	}
	out = appendHeaderMap(out, r.Header, connectionTokens(r.Header))
	if r.Header.Get("X-Request-Id") == "" {
		out = append(out, [2]string{"x-request-id", newRequestID()})
	}
	if r.Header.Get("X-Forwarded-Proto") == "" {
		out = append(out, [2]string{"x-forwarded-proto", scheme})
	}
	return out
}

// responseHeaders is the upstream response as a filter sees it.
func responseHeaders(resp *http.Response) [][2]string {
	out := [][2]string{{":status", strconv.Itoa(resp.StatusCode)}}
	out = appendHeaderMap(out, resp.Header, connectionTokens(resp.Header))
	if resp.ContentLength > 0 && resp.Header.Get("Content-Length") == "" {
		out = append(out, [2]string{"content-length", strconv.FormatInt(resp.ContentLength, 10)})
	}
	return out
}

// splitSetCookie returns hs without its set-cookie pairs, and those pairs.
func splitSetCookie(hs [][2]string) (rest, cookies [][2]string) {
	rest = hs[:0:0]
	for _, kv := range hs {
		if kv[0] == "set-cookie" {
			cookies = append(cookies, kv)
		} else {
			rest = append(rest, kv)
		}
	}
	return rest, cookies
}

// appendHeaderMap appends h as lower-case pairs in name order, skipping
// connection-specific headers and those named by Connection.
func appendHeaderMap(out [][2]string, h http.Header, skip map[string]bool) [][2]string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		lk := strings.ToLower(k)
		if isHopByHop(lk) || skip[lk] || lk == "host" {
			continue
		}
		for _, v := range h[k] {
			out = append(out, [2]string{lk, v})
		}
	}
	return out
}

// connectionTokens returns the header names listed in Connection, which are
// connection-specific too.
func connectionTokens(h http.Header) map[string]bool {
	var m map[string]bool
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if m == nil {
					m = map[string]bool{}
				}
				m[strings.ToLower(textproto.TrimString(tok))] = true
			}
		}
	}
	return m
}

// cloneHeaders deep-copies header pairs from the emulator. Its strings may
// point into the guest's linear memory, which the guest reuses.
func cloneHeaders(in [][2]string) [][2]string {
	if in == nil {
		return nil
	}
	out := make([][2]string, len(in))
	for i, kv := range in {
		out[i] = [2]string{strings.Clone(kv[0]), strings.Clone(kv[1])}
	}
	return out
}

// newRequestID returns a random UUID (version 4), as Envoy generates.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
