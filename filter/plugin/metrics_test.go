//go:build !wasip1

// The SDK's emulator (proxytest) only builds for the host platform.

package plugin

import (
	"fmt"
	"testing"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/svcauth/svcauth/filter/session"
)

// The filter metrics of docs/operations.md that the other tests do not read.

func wantCounter(t *testing.T, host proxytest.HostEmulator, name string, want uint64) {
	t.Helper()
	if n, err := host.GetCounterMetric(name); err != nil || n != want {
		t.Fatalf("%s = %d (%v), want %d", name, n, err, want)
	}
}

func TestExemptAndForbiddenCounted(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, testConfig("issuer", exchangeIssuer, "exempt_path_prefixes", []string{"/healthz"}))
		for i := 0; i < 2; i++ {
			if _, a := send(host, get("/healthz/live")); a != types.ActionContinue {
				t.Fatalf("exempt path: %v", a)
			}
		}
		id, callout := startExchange(t, host, credentialHeaders())
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "403"}}, nil,
			[]byte(`{"error":"forbidden","reason":"no_matching_policy"}`))
		wantLocalReply(t, host, id, 403, "no_matching_policy")
		host.Tick() // flushes the counters
		wantCounter(t, host, outcomeNames[outExempt], 2)
		wantCounter(t, host, outcomeNames[outForbidden], 1)
	})
}

// TestCalloutLatencyRecorded: the exchange's and the sync's callout
// latencies are recorded in milliseconds, from the call to its answer. The
// VM records them only on a clock it trusts: natively under the emulator
// (after a first request calibrated it) and for the module on the direct
// host, whose WASI clock is real as Envoy's is; the emulator gives wasm VMs
// a fake WASI clock.
func TestCalloutLatencyRecorded(t *testing.T) {
	const syncDelay, exchangeDelay = 30, 40 // ms
	wantLatency := func(t *testing.T, name string, v uint64, ok bool, min uint64) {
		t.Helper()
		if !ok || v < min || v > 5000 {
			t.Fatalf("%s = %d (defined: %v), want the %d+ ms the answer took", name, v, ok, min)
		}
	}
	t.Run("go", func(t *testing.T) {
		host := startHost(t, NewVMContext(), syncConfig)
		tok := sign(t, testKey, nil)
		id, a := send(host, get("/", "cookie", "CF_Authorization="+tok))
		wantForwarded(t, host, id, a, tok)

		c := tickSync(t, host)
		time.Sleep(syncDelay * time.Millisecond)
		answerSync(t, host, c, 200, baseSync("e1"))
		v, err := host.GetHistogramMetric(metricSyncLatency)
		wantLatency(t, metricSyncLatency, v, err == nil, syncDelay)

		id, callout := startExchange(t, host, credentialHeaders())
		time.Sleep(exchangeDelay * time.Millisecond)
		host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "200"}}, nil, issuerAnswer(t, sign(t, testKey, nil)))
		if a := host.GetCurrentHttpStreamAction(id); a != types.ActionContinue {
			t.Fatalf("exchange not resumed: %v", a)
		}
		v, err = host.GetHistogramMetric(metricExchangeLatency)
		wantLatency(t, metricExchangeLatency, v, err == nil, exchangeDelay)
	})
	t.Run("wasm-direct", func(t *testing.T) {
		h := newDirectHost(t, filterModule.binary(t), syncConfig)
		headers := benchHeaders("cf-access-client-id", testClientID, "cf-access-client-secret", testSecret)
		s := h.request(t, headers, types.ActionPause)
		exchange := h.callout(t, "/v1/exchange")
		time.Sleep(exchangeDelay * time.Millisecond)
		h.Respond(exchange, [][2]string{{":status", "200"}}, issuerAnswer(t, sign(t, testKey, nil)))
		if !s.Continued {
			t.Fatal("the request was not resumed after the exchange")
		}
		h.Finish(s)
		v, ok := h.Metric(metricExchangeLatency)
		wantLatency(t, metricExchangeLatency, v, ok, exchangeDelay)

		h.Tick()
		poll := h.callout(t, "/v1/filter-sync?aud="+testAud)
		time.Sleep(syncDelay * time.Millisecond)
		h.answerSync(t, poll, baseSync("e1"))
		v, ok = h.Metric(metricSyncLatency)
		wantLatency(t, metricSyncLatency, v, ok, syncDelay)
	})
}

// TestSyncFailuresAndSigningVersion: failed polls are counted, and the
// signing key's version follows the synced key ring (the newest active
// key, not one that activates later).
func TestSyncFailuresAndSigningVersion(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, syncConfig)
		now := time.Now().Unix()
		body := baseSync("e1")
		body.Keys = []syncKeyAnswer{
			{Kid: session.KeyID(testAud, 2), Key: b64(testKey.Secret), ActivatesAt: now - 3600},
			{Kid: session.KeyID(testAud, 3), Key: b64(otherKey.Secret), ActivatesAt: now - 60},
			{Kid: session.KeyID(testAud, 4), Key: b64(testKey.Secret), ActivatesAt: now + 3600},
		}
		syncOnce(t, host, body)
		host.Tick() // sets the gauges, and polls again
		if v, err := host.GetGaugeMetric(metricSigningVersion); err != nil || v != 3 {
			t.Fatalf("%s = %d (%v), want 3 (v4 activates later)", metricSigningVersion, v, err)
		}
		for i := 0; i < 2; i++ {
			callouts := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
			host.CallOnHttpCallResponse(callouts[len(callouts)-1].CalloutID, nil, nil, nil) // no answer
			host.Tick()
		}
		wantCounter(t, host, metricSyncFailed, 2)
	})
}

// TestRefusalReasonsBounded: reasons come partly from the issuer, so a VM
// defines at most maxReasonMetrics of them and counts the rest as "other".
func TestRefusalReasonsBounded(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host := startHost(t, vm, exchangeConfig)
		const extra = 6
		reason := func(i int) string { return fmt.Sprintf("reason_%c%c", 'a'+i/26, 'a'+i%26) } // issuer reasons are [a-z_]
		for i := 0; i < maxReasonMetrics+extra; i++ {
			reason := reason(i)
			id, callout := startExchange(t, host, credentialHeaders())
			host.CallOnHttpCallResponse(callout.CalloutID, [][2]string{{":status", "401"}}, nil,
				[]byte(`{"error":"unauthorized","reason":"`+reason+`"}`))
			wantLocalReply(t, host, id, 401, reason)
		}
		// The bound is per VM, 401 and 503 together: a first 503 reason
		// now counts as other too.
		id, callout := startExchange(t, host, credentialHeaders())
		host.CallOnHttpCallResponse(callout.CalloutID, nil, nil, nil) // no answer
		wantLocalReply(t, host, id, 503, reasonIssuerUnreachable)
		host.Tick()
		wantCounter(t, host, metricUnavailablePrefix+"other", 1)
		wantCounter(t, host, metricUnauthorizedPrefix+reason(maxReasonMetrics-1), 1)
		if _, err := host.GetCounterMetric(metricUnauthorizedPrefix + reason(maxReasonMetrics)); err == nil {
			t.Fatalf("reason %d got a metric of its own", maxReasonMetrics)
		}
		wantCounter(t, host, metricUnauthorizedPrefix+"other", extra)
	})
}
