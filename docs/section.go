// Package docs holds the operator and maintainer documents (the *.md files
// here). Its one function serves the tests elsewhere that keep a document's
// tables and examples true to the code.
package docs

import (
	"fmt"
	"os"
	"strings"
)

// Section returns the text of the "## heading" section of the Markdown file
// at path, from its heading line to the next "## " heading.
func Section(path, heading string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	doc := string(b)
	start := strings.Index(doc, "\n## "+heading+"\n")
	if start < 0 {
		return "", fmt.Errorf("%s has no %q section", path, "## "+heading)
	}
	section := doc[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	return section, nil
}
