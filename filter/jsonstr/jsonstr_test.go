package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestAppendIsValidJSONAndRoundTripsASCII(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te`, `back\slash`, "ctl\x00\x1f\n\t", "https://issuer.example/path?q=1"} {
		b := Append(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("Append(%q) = %s: not JSON: %v", s, b, err)
		}
		if got != s {
			t.Fatalf("Append(%q) decodes to %q", s, got)
		}
	}
}

func TestAppendEscapesNonASCII(t *testing.T) {
	b := Append([]byte("x"), "\xff\xc3\xa9")
	if string(b) != `x"\u00ff\u00c3\u00a9"` {
		t.Fatalf("got %s", b)
	}
	if !json.Valid(b[1:]) {
		t.Fatalf("%s is not valid JSON", b[1:])
	}
}
