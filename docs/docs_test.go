// Package docs_test checks the operator and maintainer documents: every
// relative link in README.md and docs/*.md resolves to a file of the
// repository (and, with a #fragment, to a heading of that file), and the
// README stays short.
package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// maxReadmeLines keeps the README an introduction; the rest belongs in docs/.
const maxReadmeLines = 250

var (
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile("(?m)^#{1,6} (.+)$")
	codeRE    = regexp.MustCompile("(?s)```.*?```")
)

func documents(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no documents in docs/")
	}
	return append([]string{filepath.Join("..", "README.md")}, docs...)
}

func TestRelativeLinksResolve(t *testing.T) {
	checked := 0
	for _, doc := range documents(t) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := codeRE.ReplaceAllString(string(b), "")
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			checked++
			file, fragment, _ := strings.Cut(link, "#")
			target := doc
			if file != "" {
				target = filepath.Join(filepath.Dir(doc), filepath.FromSlash(file))
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: %v", doc, link, err)
				continue
			}
			if fragment != "" && !hasAnchor(t, target, fragment) {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", doc, link, target, fragment)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: is the pattern wrong?")
	}
}

// hasAnchor reports whether a Markdown file has a heading whose GitHub
// anchor is fragment.
func hasAnchor(t *testing.T, file, fragment string) bool {
	t.Helper()
	if !strings.HasSuffix(file, ".md") {
		return false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range headingRE.FindAllStringSubmatch(codeRE.ReplaceAllString(string(b), ""), -1) {
		if anchor(m[1]) == fragment {
			return true
		}
	}
	return false
}

// anchor is GitHub's heading anchor: lower case, spaces to hyphens, and
// everything but letters, digits, hyphens and underscores dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"`svcauth serve` flags":                      "svcauth-serve-flags",
		"The issuer's HTTP server":                   "the-issuers-http-server",
		"The dev proxy (development and tests only)": "the-dev-proxy-development-and-tests-only",
		"What is verified where":                     "what-is-verified-where",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestReadmeIsShort(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > maxReadmeLines {
		t.Fatalf("README.md has %d lines, more than %d: move the detail to a document in docs/", n, maxReadmeLines)
	}
}
