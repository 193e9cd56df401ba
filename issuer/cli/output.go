package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes rows under a header, in aligned columns.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields writes label/value pairs, one per line, aligned.
func fields(w io.Writer, pairs ...string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	return tw.Flush()
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printList writes items as JSON or, for -o table, as one row per item
// under header. The error is a failure (exit code 1).
func printList[T any](a *app, items []T, header []string, row func(T) []string) error {
	if a.output == "json" {
		return fail(printJSON(a.stdout, items))
	}
	rows := make([][]string, 0, len(items))
	for _, x := range items {
		rows = append(rows, row(x))
	}
	return fail(table(a.stdout, header, rows))
}

// printDeleted confirms that the thing (a "policy", an "application")
// with id is gone. The error is a failure (exit code 1).
func (a *app) printDeleted(thing, id string) error {
	if a.output == "json" {
		return fail(printJSON(a.stdout, map[string]any{"id": id, "deleted": true}))
	}
	_, err := a.stdout.Write([]byte("Deleted " + thing + " " + id + "\n"))
	return fail(err)
}
