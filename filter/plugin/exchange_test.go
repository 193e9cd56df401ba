//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"bytes"
	"encoding/json"
	"log"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/session"
)

var sourceAddress = property{[]string{"source", "address"}, []byte("203.0.113.7:51234")}

// startExchange sends a request with valid credentials and returns the
// callout it caused.
func startExchange(t *testing.T, host proxytest.HostEmulator, headers [][2]string) (uint32, proxytest.HttpCalloutAttribute) {
	t.Helper()
	id, action := send(host, headers)
	if action != types.ActionPause {
		t.Fatalf("action %v, want pause for the exchange", action)
	}
	if r := host.GetSentLocalResponse(id); r != nil {
		t.Fatalf("local reply %d %s instead of an exchange", r.StatusCode, r.Data)
	}
	callouts := host.GetCalloutAttributesFromContext(id)
	if len(callouts) != 1 {
		t.Fatalf("%d callouts, want 1", len(callouts))
	}
	wantNoSecrets(t, host.GetCurrentRequestHeaders(id))
	return id, callouts[0]
}

func credentialHeaders(extra ...string) [][2]string {
	return get("/api", append([]string{"cf-access-client-id", testClientID, "cf-access-client-secret", testSecret}, extra...)...)
}

func issuerAnswer(t *testing.T, tok string) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"jwt": tok, "expires_at": time.Now().Unix() + 3600})
	return b
}

// captureLog collects what the emulator logs (the host logs each callout's
// timeout there, and proxytest exposes it nowhere else).
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	return &buf
}

func TestExchangeSuccess(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		logs := captureLog(t)
		host := startHost(t, vm, exchangeConfig, sourceAddress)
		id, callout := startExchange(t, host, credentialHeaders("x-request-id", "req-42", "cf-access-jwt-assertion", "forged"))

		if callout.Upstream != "issuer_cluster" {
			t.Fatalf("callout upstream %q", callout.Upstream)
		}
		wantHeaders := [][2]string{
			{":method", "POST"}, {":path", "/v1/exchange"}, {":authority", "issuer.internal"},
			{"content-type", "application/json"}, {"x-request-id", "req-42"},
		}
		if !reflect.DeepEqual(callout.Headers, wantHeaders) {
			t.Fatalf("callout headers %q, want %q", callout.Headers, wantHeaders)
		}
		var body map[string]string
		if err := json.Unmarshal(callout.Body, &body); err != nil {
			t.Fatalf("callout body %q: %v", callout.Body, err)
		}
		wantBody := map[string]string{
			"client_id": testClientID, "client_secret": testSecret, "aud": testAud,
			"source_ip": "203.0.113.7", "request_id": "req-42",
		}
		if !reflect.DeepEqual(body, wantBody) {
			t.Fatalf("callout body %v, want %v", body, wantBody)
		}
		if !strings.Contains(logs.String(), "[http callout to issuer_cluster] timeout: 1500") {
			t.Fatalf("callout timeout not 1500 ms; host log:\n%s", logs)
		}
		if a := values(host.GetCurrentRequestHeaders(id), "cf-access-jwt-assertion"); len(a) != 0 {
			t.Fatalf("client assertion kept while paused: %q", a)
		}

		if a := host.CallOnRequestBody(id, []byte(`{"order":1}`), true); a != types.ActionPause {
			t.Fatalf("request body not held while the exchange runs: %v", a)
		}

		exp := time.Now().Unix() + 3600
		tok := sign(t, testKey, func(c *session.Claims) { c.ExpiresAt = exp })
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}, {"content-type", "application/json"}}, nil, issuerAnswer(t, tok))
		if a := host.GetCurrentHttpStreamAction(id); a != types.ActionContinue {
			t.Fatalf("request not resumed: %v", a)
		}
		wantForwarded(t, host, id, types.ActionContinue, tok)

		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/plain"}}, false)
		cookies := values(host.GetCurrentResponseHeaders(id), "set-cookie")
		if len(cookies) != 1 {
			t.Fatalf("set-cookie %q", cookies)
		}
		prefix := "CF_Authorization=" + tok + "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age="
		if !strings.HasPrefix(cookies[0], prefix) {
			t.Fatalf("set-cookie %q, want prefix %q", cookies[0], prefix)
		}
		maxAge, err := strconv.ParseInt(strings.TrimPrefix(cookies[0], prefix), 10, 64)
		if err != nil || maxAge < 3590 || maxAge > 3600 {
			t.Fatalf("Max-Age %q", strings.TrimPrefix(cookies[0], prefix))
		}
		host.CompleteHttpContext(id)
		if logs := host.GetErrorLogs(); len(logs) != 0 {
			t.Fatalf("error logs: %q", logs)
		}
	})
}

// TestExchangeRequestID: the client's x-request-id goes to the issuer (header
// and body) only when it is at most 200 visible ASCII bytes; of several, the
// host's first (as Envoy's single-value read returns it).
func TestExchangeRequestID(t *testing.T) {
	long := strings.Repeat("r", maxRequestIDLength)
	for _, tc := range []struct {
		name string
		ids  []string
		want string
	}{
		{"longest", []string{long}, long},
		{"too long", []string{long + "r"}, ""},
		{"control byte", []string{"req\x01-1"}, ""},
		{"space", []string{"req 1"}, ""},
		{"repeated", []string{"req-1", "req-2"}, "req-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vmTest(t, func(t *testing.T, vm types.VMContext) {
				host := startHost(t, vm, exchangeConfig)
				var extra []string
				for _, id := range tc.ids {
					extra = append(extra, "x-request-id", id)
				}
				_, callout := startExchange(t, host, credentialHeaders(extra...))
				var body map[string]string
				if err := json.Unmarshal(callout.Body, &body); err != nil {
					t.Fatal(err)
				}
				header := values(callout.Headers, "x-request-id")
				switch {
				case tc.want == "" && (len(header) != 0 || body["request_id"] != ""):
					t.Fatalf("request id forwarded: header %q, body %q", header, body["request_id"])
				case tc.want != "" && (len(header) != 1 || header[0] != tc.want || body["request_id"] != tc.want):
					t.Fatalf("request id: header %q, body %q; want %q", header, body["request_id"], tc.want)
				}
			})
		})
	}
}

func TestExchangeJSONHeader(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, exchangeConfig)
		creds := `{"cf-access-client-id": "` + testClientID + `", "cf-access-client-secret": "` + testSecret + `"}`
		id, callout := startExchange(t, host, get("/api", "x-svcauth-credentials", creds))
		var body map[string]string
		if err := json.Unmarshal(callout.Body, &body); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"client_id": testClientID, "client_secret": testSecret, "aud": testAud}
		if !reflect.DeepEqual(body, want) {
			t.Fatalf("callout body %v, want %v (no source_ip or request_id when the host has none)", body, want)
		}
		if len(callout.Headers) != 4 {
			t.Fatalf("callout headers %q: no x-request-id expected", callout.Headers)
		}
		tok := sign(t, testKey, nil)
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, tok))
		wantForwarded(t, host, id, host.GetCurrentHttpStreamAction(id), tok)
	})
}

func TestExchangeWithInvalidSession(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, exchangeConfig)
		startExchange(t, host, credentialHeaders("cookie", "CF_Authorization="+sign(t, testKey, expired)))
	})
}

func TestExchangeFailures(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		cases := []struct {
			name     string
			headers  [][2]string
			body     func(t *testing.T) []byte
			status   uint32
			reason   string
			errorLog string
		}{
			{"401 with reason", [][2]string{{":status", "401"}}, text(`{"error":"unauthorized","reason":"invalid_secret"}`), 401, "invalid_secret", ""},
			{"401 token expired", [][2]string{{":status", "401"}}, text(`{"error":"unauthorized","reason":"token_expired"}`), 401, "token_expired", ""},
			{"401 odd reason", [][2]string{{":status", "401"}}, text(`{"reason":"<script>"}`), 401, "unauthorized", ""},
			{"401 long reason", [][2]string{{":status", "401"}}, text(`{"reason":"` + strings.Repeat("a", 41) + `"}`), 401, "unauthorized", ""},
			{"401 no body", [][2]string{{":status", "401"}}, text(""), 401, "unauthorized", ""},
			{"403", [][2]string{{":status", "403"}}, text(`{"error":"forbidden","reason":"no_matching_policy"}`), 403, "no_matching_policy", ""},
			{"403 garbage", [][2]string{{":status", "403"}}, text(`nope`), 403, "forbidden", ""},
			{"404 unknown app", [][2]string{{":status", "404"}}, text(`{"error":"not_found","message":"unknown application"}`), 503, "issuer_bad_response", "does not know audience"},
			{"400", [][2]string{{":status", "400"}}, text(`{"error":"bad_request"}`), 503, "issuer_bad_response", `status "400"`},
			{"500", [][2]string{{":status", "500"}}, text(`oops`), 503, "issuer_bad_response", `status "500"`},
			{"no status", [][2]string{{"content-type", "text/plain"}}, text(`{}`), 503, "issuer_bad_response", `status ""`},
			{"200 garbage", [][2]string{{":status", "200"}}, text(`<html>`), 503, "issuer_bad_response", "without a session token"},
			{"200 empty", [][2]string{{":status", "200"}}, text(""), 503, "issuer_bad_response", "without a session token"},
			{"200 jwt not string", [][2]string{{":status", "200"}}, text(`{"jwt":1}`), 503, "issuer_bad_response", "without a session token"},
			{"200 oversize", [][2]string{{":status", "200"}}, func(t *testing.T) []byte {
				return issuerAnswerPadded(t, sign(t, testKey, nil), maxIssuerBody)
			}, 503, "issuer_bad_response", "without a session token"},
			{"200 other key", [][2]string{{":status", "200"}}, func(t *testing.T) []byte {
				return issuerAnswer(t, sign(t, otherKey, nil))
			}, 503, "issuer_bad_response", "issuer-signed token does not verify: key mismatch?"},
			{"200 same kid other secret", [][2]string{{":status", "200"}}, func(t *testing.T) []byte {
				return issuerAnswer(t, sign(t, session.Key{ID: testKey.ID, Secret: otherKey.Secret}, nil))
			}, 503, "issuer_bad_response", "issuer-signed token does not verify: key mismatch?"},
			{"200 other audience", [][2]string{{":status", "200"}}, func(t *testing.T) []byte {
				return issuerAnswer(t, sign(t, testKey, func(c *session.Claims) { c.Audience = strings.Repeat("cd", 32) }))
			}, 503, "issuer_bad_response", "issuer-signed token does not verify: key mismatch? (wrong_audience)"},
			{"no headers (timeout or reset)", nil, text(""), 503, "issuer_unreachable", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				host := startHost(t, vm, exchangeConfig)
				id, callout := startExchange(t, host, credentialHeaders())
				if a := host.CallOnRequestBody(id, []byte("x"), false); a != types.ActionPause {
					t.Fatalf("request body not held while the exchange runs: %v", a)
				}
				host.CallOnHttpCallResponse(callout.CalloutID, tc.headers, nil, tc.body(t))
				wantLocalReply(t, host, id, tc.status, tc.reason)
				if a := host.CallOnRequestBody(id, []byte("y"), true); a != types.ActionPause {
					t.Fatalf("request body let through after a local reply: %v", a)
				}
				if a := values(host.GetCurrentRequestHeaders(id), "cf-access-jwt-assertion"); len(a) != 0 {
					t.Fatalf("assertion set on a refused request: %q", a)
				}
				host.CallOnResponseHeaders(id, [][2]string{{":status", strconv.Itoa(int(tc.status))}}, false)
				if c := values(host.GetCurrentResponseHeaders(id), "set-cookie"); len(c) != 0 {
					t.Fatalf("set-cookie on a refused request: %q", c)
				}
				errs := strings.Join(host.GetErrorLogs(), "\n")
				if tc.errorLog == "" && errs != "" || !strings.Contains(errs, tc.errorLog) {
					t.Fatalf("error logs %q, want one containing %q", errs, tc.errorLog)
				}
			})
		}
	})
}

func text(s string) func(*testing.T) []byte {
	return func(*testing.T) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
}

func issuerAnswerPadded(t *testing.T, tok string, size int) []byte {
	b, _ := json.Marshal(map[string]any{"jwt": tok, "padding": strings.Repeat(" ", size)})
	return b
}

// TestDispatchFailure covers a callout the host refuses (an unknown cluster
// gives BadArgument in Envoy). The SDK's emulator accepts every cluster name,
// so this runs natively only, with the dispatch function replaced.
func TestDispatchFailure(t *testing.T) {
	orig := dispatchHTTPCall
	t.Cleanup(func() { dispatchHTTPCall = orig })
	dispatchHTTPCall = func(string, [][2]string, []byte, [][2]string, uint32, func(int, int, int)) (uint32, error) {
		return 0, types.ErrorStatusBadArgument
	}
	host := startHost(t, NewVMContext(), exchangeConfig)
	id, action := send(host, credentialHeaders())
	wantReply(t, host, id, action, 503, "issuer_unreachable")
	wantNoSecrets(t, host.GetCurrentRequestHeaders(id))
	logs := host.GetErrorLogs()
	if len(logs) != 1 || !strings.Contains(logs[0], `cluster "issuer_cluster"`) || !strings.Contains(logs[0], "bad argument") {
		t.Fatalf("error logs %q, want one naming the cluster", logs)
	}
}

// TestContextReuseStartsClean: finished streams' contexts are reused, and a
// reused context starts clean: an exchange in the context of a finished
// cookie request is resumed and answered with its cookie (a context still
// marked finished would drop the issuer's answer), and the cookie request
// after it gets no cookie. An exchange answer that arrives after its stream
// was deleted changes nothing. (The emulator deletes a context as soon as its
// stream ends; the window Envoy leaves between the two, when a late answer
// must not reach a reused context, is tested on the direct host:
// TestDirectHostLateExchangeAnswer.)
func TestContextReuseStartsClean(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, exchangeConfig, sourceAddress)
		a, abandoned := startExchange(t, host, credentialHeaders())
		host.CompleteHttpContext(a) // the client went away during the exchange

		cookie := sign(t, testKey, nil)
		cookieRequest := func(step string) {
			t.Helper()
			b, action := send(host, get("/api", "cookie", "CF_Authorization="+cookie))
			if action != types.ActionContinue {
				t.Fatalf("%s: cookie request: %v", step, action)
			}
			host.CallOnResponseHeaders(b, [][2]string{{":status", "200"}}, false)
			if c := values(host.GetCurrentResponseHeaders(b), "set-cookie"); len(c) != 0 {
				t.Fatalf("%s: a cookie request got set-cookie %q", step, c)
			}
			wantForwarded(t, host, b, types.ActionContinue, cookie)
			host.CompleteHttpContext(b)
		}
		cookieRequest("first")
		host.CallOnHttpCallResponse(abandoned.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, sign(t, testKey, nil)))

		// A header pair in the reused context: exchanged, resumed, cookie set.
		p, callout := startExchange(t, host, credentialHeaders())
		fresh := sign(t, testKey, func(c *session.Claims) { c.ID = "jti-reuse" })
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, fresh))
		if a := host.GetCurrentHttpStreamAction(p); a != types.ActionContinue {
			t.Fatalf("exchange in a reused context not resumed: %v", a)
		}
		host.CallOnResponseHeaders(p, [][2]string{{":status", "200"}}, false)
		if c := values(host.GetCurrentResponseHeaders(p), "set-cookie"); len(c) != 1 || !strings.HasPrefix(c[0], "CF_Authorization="+fresh+";") {
			t.Fatalf("exchange in a reused context: set-cookie %q", c)
		}
		host.CompleteHttpContext(p)

		cookieRequest("after the exchange") // the exchange's session is not carried over

		// A 401 holds its request; the context it leaves must not hold the
		// body of the next request that reuses it.
		refused, _ := send(host, get("/api"))
		wantLocalReply(t, host, refused, 401, "missing_credentials")
		host.CompleteHttpContext(refused)
		b, action := send(host, get("/api", "cookie", "CF_Authorization="+cookie))
		if action != types.ActionContinue {
			t.Fatalf("cookie request after a 401: %v", action)
		}
		if a := host.CallOnRequestBody(b, []byte("{}"), true); a != types.ActionContinue {
			t.Fatalf("a reused context held the body of a valid request: %v", a)
		}
		host.CompleteHttpContext(b)
		if logs := host.GetErrorLogs(); len(logs) != 0 {
			t.Fatalf("error logs: %q", logs)
		}
	})
}
