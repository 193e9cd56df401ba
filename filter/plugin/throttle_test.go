//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// TestExchangeThrottled: the issuer's 429 (a client id or source that failed
// too often) becomes a local 429 with the issuer's Retry-After, counted
// under svcauth.requests.throttled.<reason>, and is not remembered: the same
// credentials after the wait are exchanged again and let through.
func TestExchangeThrottled(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, exchangeConfig, sourceAddress)
		for i := 0; i < 2; i++ {
			id, callout := startExchange(t, host, credentialHeaders())
			host.CallOnHttpCallResponse(callout.CalloutID,
				[][2]string{{":status", "429"}, {"content-type", "application/json"}, {"retry-after", "6"}}, nil,
				[]byte(`{"error":"too_many_requests","message":"too many failed exchanges","reason":"too_many_failures"}`))
			wantLocalReply(t, host, id, 429, "too_many_failures")
			r := host.GetSentLocalResponse(id)
			if ra := values(r.Headers, "retry-after"); len(ra) != 1 || ra[0] != "6" {
				t.Fatalf("retry-after %q, want [6]", ra)
			}
			if a := host.CallOnRequestBody(id, []byte("x"), true); a != types.ActionPause {
				t.Fatalf("request body let through after a 429: %v", a)
			}
			host.CompleteHttpContext(id)
		}

		// The throttle has passed: the same pair is asked again, not
		// refused from a cache, and this time the issuer says yes.
		id, callout := startExchange(t, host, credentialHeaders())
		tok := sign(t, testKey, nil)
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, tok))
		wantForwarded(t, host, id, types.ActionContinue, tok)
		host.CompleteHttpContext(id)

		host.Tick() // flushes the counters
		wantCounter(t, host, metricThrottledPrefix+"too_many_failures", 2)
		wantCounter(t, host, outcomeNames[outExchanged], 1)
		if _, err := host.GetCounterMetric(metricUnavailablePrefix + "too_many_failures"); err == nil {
			t.Fatal("a 429 was counted as unavailable")
		}
		if logs := host.GetErrorLogs(); len(logs) != 0 {
			t.Fatalf("a client's throttling logged errors: %q", logs)
		}
	})
}

// TestExchangeThrottledAnswerChecked: a 429 whose reason or Retry-After is
// missing or odd still answers 429, with the filter's own reason and a
// bounded Retry-After, never the issuer's text.
func TestExchangeThrottledAnswerChecked(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		cases := []struct {
			name, body            string
			retryAfter            string // "": the issuer sends none
			wantReason, wantRetry string
		}{
			{"no body, no retry-after", "", "", "too_many_failures", defaultRetryAfter},
			{"odd reason", `{"reason":"<b>slow down</b>"}`, "6", "too_many_failures", "6"},
			{"issuer's other reason", `{"reason":"too_many_requests"}`, "2", "too_many_requests", "2"},
			{"http date", `{"reason":"too_many_failures"}`, "Wed, 21 Oct 2026 07:28:00 GMT", "too_many_failures", defaultRetryAfter},
			{"zero", `{"reason":"too_many_failures"}`, "0", "too_many_failures", defaultRetryAfter},
			{"a day", `{"reason":"too_many_failures"}`, "86400", "too_many_failures", "3600"},
			{"header injection", `{"reason":"too_many_failures"}`, "6\r\nset-cookie: x=1", "too_many_failures", defaultRetryAfter},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				host := startHost(t, vm, exchangeConfig)
				id, callout := startExchange(t, host, credentialHeaders())
				headers := [][2]string{{":status", "429"}}
				if tc.retryAfter != "" {
					headers = append(headers, [2]string{"retry-after", tc.retryAfter})
				}
				host.CallOnHttpCallResponse(callout.CalloutID, headers, nil, text(tc.body)(t))
				wantLocalReply(t, host, id, 429, tc.wantReason)
				r := host.GetSentLocalResponse(id)
				if ra := values(r.Headers, "retry-after"); len(ra) != 1 || ra[0] != tc.wantRetry {
					t.Fatalf("retry-after %q, want [%s]", ra, tc.wantRetry)
				}
				if c := values(r.Headers, "set-cookie"); len(c) != 0 {
					t.Fatalf("set-cookie on a 429: %q", c)
				}
			})
		}
	})
}

func TestSaneRetryAfter(t *testing.T) {
	for in, want := range map[string]string{
		"1": "1", "6": "6", "0006": "6", "3600": "3600", "3601": "3600", "99999999999999999999": "3600",
		"": defaultRetryAfter, "0": defaultRetryAfter, "000": defaultRetryAfter, "-5": defaultRetryAfter,
		"+6": defaultRetryAfter, "6.5": defaultRetryAfter, " 6": defaultRetryAfter, "6s": defaultRetryAfter,
		"6\n": defaultRetryAfter, "0x10": defaultRetryAfter, "1_0": defaultRetryAfter,
		"Wed, 21 Oct 2026 07:28:00 GMT": defaultRetryAfter,
	} {
		if got := saneRetryAfter(in); got != want {
			t.Errorf("saneRetryAfter(%q) = %q, want %q", in, got, want)
		}
	}
}
