package plugin

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// calloutAnswer reads the answer to an issuer callout, in its callback: the
// status, the value of one other header (the exchange wants Retry-After, the
// sync Date), and the body when it is at most maxBody bytes (nil otherwise:
// a larger answer is not one the filter can use, and is not read).
func calloutAnswer(bodySize, maxBody int, other string) (status, value string, body []byte) {
	if hs, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
		for _, kv := range hs {
			switch kv[0] {
			case ":status":
				status = kv[1]
			case other:
				value = kv[1]
			}
		}
	}
	if bodySize > 0 && bodySize <= maxBody {
		body, _ = proxywasm.GetHttpCallResponseBody(0, bodySize)
	}
	return status, value, body
}
