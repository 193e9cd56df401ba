package envoy_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/svcauth/svcauth/docs"
	"github.com/svcauth/svcauth/filter/plugin"
)

// TestFilterConfigurationDocumented keeps docs/configuration.md's "Filter
// configuration" true: its example is accepted by the filter's parser, and
// the table and the example name the same fields.
func TestFilterConfigurationDocumented(t *testing.T) {
	section, err := docs.Section(filepath.Join(repoRoot(t), "docs", "configuration.md"), "Filter configuration")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("no JSON example in the Filter configuration section")
	}
	if _, err := plugin.ParseConfig([]byte(m[1])); err != nil {
		t.Fatalf("the filter refuses the documented example: %v", err)
	}

	var example map[string]any
	if err := json.Unmarshal([]byte(m[1]), &example); err != nil {
		t.Fatal(err)
	}
	var inExample []string
	for k, v := range example {
		if sub, ok := v.(map[string]any); ok && k == "issuer" {
			for sk := range sub {
				inExample = append(inExample, "issuer."+sk)
			}
			continue
		}
		inExample = append(inExample, k)
	}
	var inTable []string
	for _, row := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|").FindAllStringSubmatch(section, -1) {
		inTable = append(inTable, row[1])
	}
	slices.Sort(inExample)
	slices.Sort(inTable)
	if !slices.Equal(inExample, inTable) {
		t.Errorf("the table lists %q\nthe example has %q", inTable, inExample)
	}
}
