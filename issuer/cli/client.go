package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

// client calls the issuer's admin API.
type client struct {
	base string
	key  string
	http *http.Client
}

func newClient(base, key string, timeout time.Duration) *client {
	return &client{base: strings.TrimRight(base, "/"), key: key, http: &http.Client{Timeout: timeout}}
}

// apiError is a refusal from the server.
type apiError struct {
	status int
	body   apiv1.Error
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%d %s", e.status, e.body.Error)
	if e.body.Reason != "" {
		msg += " (" + e.body.Reason + ")"
	}
	if e.body.Message != "" {
		msg += ": " + e.body.Message
	}
	return msg
}

// do sends method path with in as JSON (when not nil) and decodes the
// answer into out (when not nil). Errors are failures (exit code 1).
func (c *client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fail(err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return failf("cannot reach the issuer at %s: %v", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return failf("reading the answer to %s %s: %v", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{status: resp.StatusCode}
		if json.Unmarshal(raw, &e.body) != nil || e.body.Error == "" {
			e.body = apiv1.Error{Error: http.StatusText(resp.StatusCode)}
		}
		return fail(e)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return failf("the issuer's answer to %s %s is not the expected JSON: %v", method, path, err)
		}
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// listAll follows next_cursor through every page of a list endpoint.
func listAll[T any](ctx context.Context, c *client, path string, query url.Values, cursorParam string) ([]T, error) {
	if query == nil {
		query = url.Values{}
	}
	all := []T{}
	for {
		var page apiv1.List[T]
		if err := c.do(ctx, http.MethodGet, path, query, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" || cursorParam == "" {
			return all, nil
		}
		query.Set(cursorParam, page.NextCursor)
	}
}

// listOfApp lists every item of an application's collection (its policies
// or its keys) for a `list --app APP_ID` command: the flag is required.
func listOfApp[T any](cmd *cobra.Command, a *app, appID, collection string) ([]T, error) {
	c, err := a.clientWith(cmd, "app")
	if err != nil {
		return nil, err
	}
	return listAll[T](cmd.Context(), c, "/v1/apps/"+url.PathEscape(appID)+"/"+collection, nil, "")
}
