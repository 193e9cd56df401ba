package cli

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/svcauth/svcauth/docs"
)

// TestServeFlagsDocumented keeps docs/configuration.md's "svcauth serve
// flags" table true: it lists every flag of serve, and its default column
// starts with the default serve really has (flags whose default is computed
// at start, such as --issuer-url, are described in words).
func TestServeFlagsDocumented(t *testing.T) {
	section, err := docs.Section(filepath.Join("..", "..", "docs", "configuration.md"), "`svcauth serve` flags")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	for _, row := range regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| ([^|]*) \\|").FindAllStringSubmatch(section, -1) {
		if _, dup := documented[row[1]]; dup {
			t.Errorf("--%s is documented twice", row[1])
		}
		documented[row[1]] = strings.TrimSpace(row[2])
	}

	var flags []string
	(&app{}).serveCommand().Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		flags = append(flags, f.Name)
		def, ok := documented[f.Name]
		switch {
		case !ok:
			t.Errorf("--%s is not in docs/configuration.md", f.Name)
		case f.DefValue == "" || f.DefValue == "[]":
			if def == "" {
				t.Errorf("--%s: the default column is empty", f.Name)
			}
		case !strings.HasPrefix(def, "`"+f.DefValue+"`"):
			t.Errorf("--%s: documented default %s, serve's is `%s`", f.Name, def, f.DefValue)
		}
	})
	for name := range documented {
		if !slices.Contains(flags, name) {
			t.Errorf("docs/configuration.md documents --%s, which serve does not have", name)
		}
	}
}
