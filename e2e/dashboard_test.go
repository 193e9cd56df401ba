package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/svcauth/svcauth/e2e/stack"
)

// The dashboard tests drive Debian's chromium, headless, against a real
// issuer process, and use what the pages show through the dev proxy running
// the real svcauth.wasm.
//
// Environment:
//
//	SVCAUTH_CHROMIUM=/path/to/chromium   the browser (default: chromium on PATH)
//	SVCAUTH_REQUIRE_BROWSER=1            fail, not skip, without a browser (CI)
//	SVCAUTH_SCREENSHOTS=all              screenshot every page at 1280 and 390
//	                                     px into the test's artifact directory
//	                                     (kept with go test -artifacts)
//
// On failure every page the test visited is saved there as a PNG.

func chromiumPath() string {
	if p := os.Getenv("SVCAUTH_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// dashboard is one headless browser tab on the issuer's /ui/.
type dashboard struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots []shot
	all   bool   // SVCAUTH_SCREENSHOTS=all
	dir   string // artifact directory
	// secrets must never appear in a URL, a title or the history.
	secrets []string
}

type shot struct {
	name string
	png  []byte
}

func newDashboard(t *testing.T, base string) *dashboard {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium not found: the dashboard browser tests need it (run `make browser-deps`, or set SVCAUTH_CHROMIUM); CI installs it")
	}
	d := &dashboard{t: t, base: base, all: os.Getenv("SVCAUTH_SCREENSHOTS") == "all", dir: t.ArtifactDir()}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	d.ctx = ctx
	if err := d.do(chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, s := range d.shots {
			p := filepath.Join(d.dir, fmt.Sprintf("failure-%02d-%s.png", i, s.name))
			if err := os.WriteFile(p, s.png, 0o644); err == nil {
				t.Logf("screenshot: %s", p)
			}
		}
		t.Log("screenshots are kept with go test -artifacts")
	})
	return d
}

// do runs steps with a deadline.
func (d *dashboard) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(d.ctx, 15*time.Second)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

func run[T any](d *dashboard, a chromedp.Action[T]) T {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		d.t.Fatal(err)
	}
	return v
}

// open loads path and returns the HTTP status of the page.
func (d *dashboard) open(name, path string) int64 {
	d.t.Helper()
	resp := run(d, chromedp.NavigateResponse(d.base+path))
	d.snap(name)
	return resp.Status
}

// submit clicks sel, waits for the page it leads to and returns its status.
func (d *dashboard) submit(name string, sel chromedp.CSS) int64 {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 15*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil {
		d.t.Fatalf("click %s: %v", sel, err)
	}
	d.snap(name)
	return resp.Status
}

func (d *dashboard) set(sel chromedp.CSS, value string) {
	d.t.Helper()
	if err := d.do(chromedp.SetValue(sel, value)); err != nil {
		d.t.Fatalf("set %s: %v", sel, err)
	}
}

func (d *dashboard) click(sel chromedp.CSS) {
	d.t.Helper()
	if err := d.do(chromedp.Click(sel)); err != nil {
		d.t.Fatalf("click %s: %v", sel, err)
	}
}

// text is the text of the first element matching sel.
func (d *dashboard) text(sel string) string {
	d.t.Helper()
	return run(d, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel)))
}

func (d *dashboard) exists(sel string) bool {
	d.t.Helper()
	return run(d, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
}

func (d *dashboard) location() string { return run(d, chromedp.Location()) }

// bodyText is the visible text of the page.
func (d *dashboard) bodyText() string {
	return run(d, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// snap keeps a screenshot of the page for a failure report; with
// SVCAUTH_SCREENSHOTS=all it saves the full page at laptop and phone widths.
func (d *dashboard) snap(name string) {
	d.t.Helper()
	png, err := chromedp.Run(d.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		d.t.Logf("screenshot %s: %v", name, err)
		return
	}
	d.shots = append(d.shots, shot{name, png})
	if !d.all {
		return
	}
	for _, width := range []int64{1280, 390} {
		var opts []chromedp.EmulateViewportOption
		if width < 500 {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
		}
		err := d.do(chromedp.EmulateViewport(width, 900, opts...), chromedp.Sleep(100*time.Millisecond))
		if err == nil {
			var full []byte
			if full, err = chromedp.Run(d.ctx, chromedp.FullScreenshot(100)); err == nil {
				err = os.WriteFile(filepath.Join(d.dir, fmt.Sprintf("%02d-%s-%d.png", len(d.shots), name, width)), full, 0o644)
			}
		}
		if err != nil {
			d.t.Logf("screenshot %s at %d px: %v", name, width, err)
		}
	}
	if err := d.do(chromedp.EmulateViewport(1280, 900)); err != nil {
		d.t.Logf("reset viewport: %v", err)
	}
}

// createToken creates a token through the pages and returns what the
// one-time page shows.
func (d *dashboard) createToken(name, duration string) (tokenID, clientID, secret, secretURL string) {
	d.t.Helper()
	if st := d.open("tokens", "/ui/tokens"); st != 200 {
		d.t.Fatalf("tokens page: %d", st)
	}
	if st := d.submit("token-new", `a[href="/ui/tokens/new"]`); st != 200 {
		d.t.Fatalf("create page: %d", st)
	}
	d.set(`#name`, name)
	d.set(`#duration`, duration)
	if st := d.submit("secret", `form[action="/ui/tokens"] button[type=submit]`); st != 200 {
		d.t.Fatalf("one-time page: %d\n%s", st, d.bodyText())
	}
	secretURL = d.location()
	clientID, secret = strings.TrimSpace(d.text("#client-id")), strings.TrimSpace(d.text("#client-secret"))
	if !strings.HasSuffix(clientID, ".access") || !strings.HasPrefix(secret, "svcauth_cs_") {
		d.t.Fatalf("one-time page shows client id %q, secret %q", clientID, secret)
	}
	d.secrets = append(d.secrets, secret)
	href := run(d, chromedp.Evaluate[string](`document.querySelector('a.btn-primary[href^="/ui/tokens/"]').getAttribute("href")`))
	return strings.TrimPrefix(href, "/ui/tokens/"), clientID, secret, secretURL
}

// proxyGet sends GET / through the proxy with the headers.
func proxyGet(t *testing.T, ctx context.Context, proxyURL string, headers map[string]string) *http.Response {
	t.Helper()
	resp := getVia(t, ctx, proxyURL, "/", headers)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func creds(clientID, secret string) map[string]string {
	return map[string]string{"CF-Access-Client-Id": clientID, "CF-Access-Client-Secret": secret}
}

func TestDashboardInBrowser(t *testing.T) {
	if chromiumPath() == "" {
		if os.Getenv("SVCAUTH_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium not found and SVCAUTH_REQUIRE_BROWSER is set: run make browser-deps")
		}
		t.Skip("chromium not found: the dashboard browser tests need it (run `make browser-deps`, or set SVCAUTH_CHROMIUM); CI installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	state := t.TempDir()

	issuer, err := stack.StartIssuer(ctx, stack.IssuerOptions{BinDir: binDir, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		issuer.Stop()
		if t.Failed() {
			t.Logf("issuer output:\n%s", issuer.Output())
		}
	})
	app, err := issuer.CreateApp(ctx, "e2e-app", "app.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := issuer.AdmitServiceTokens(ctx, app.ID, "any_valid_service_token"); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(state, "filter.json")
	if err := issuer.WriteFilterConfig(ctx, app.ID, "svcauth-issuer", config); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(&stack.EchoUpstream{})
	t.Cleanup(up.Close)
	proxy, err := stack.StartDevProxy(ctx, stack.DevProxyOptions{
		BinDir: binDir, PluginConfig: config, Upstream: up.URL,
		Clusters: map[string]string{"svcauth-issuer": issuer.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Stop()
		if t.Failed() {
			t.Logf("dev proxy output:\n%s", proxy.Output())
		}
	})

	d := newDashboard(t, issuer.URL)
	d.secrets = append(d.secrets, issuer.AdminKey)

	t.Run("login", func(t *testing.T) {
		d.t = t
		d.open("login-redirect", "/ui/tokens")
		if loc := d.location(); !strings.Contains(loc, "/ui/login") {
			t.Fatalf("signed out, /ui/tokens went to %s", loc)
		}
		d.set(`#admin_key`, "svcauth_ak_not-a-real-key")
		if st := d.submit("login-refused", `form[action="/ui/login"] button[type=submit]`); st != http.StatusUnauthorized {
			t.Fatalf("wrong key: status %d", st)
		}
		if msg := d.text("#page-error"); !strings.Contains(msg, "not valid") {
			t.Fatalf("wrong key message %q", msg)
		}
		d.set(`#admin_key`, issuer.AdminKey)
		if st := d.submit("tokens", `form[action="/ui/login"] button[type=submit]`); st != 200 {
			t.Fatalf("sign-in: status %d", st)
		}
		if loc := d.location(); !strings.HasSuffix(loc, "/ui/tokens") {
			t.Fatalf("after sign-in: %s", loc)
		}
		if who := d.text(".whoami"); !strings.Contains(who, "initial") {
			t.Fatalf("signed in as %q", who)
		}
	})

	var tokenID, secretURL string
	t.Run("create a token and use its secret through the proxy", func(t *testing.T) {
		d.t = t
		var clientID, secret string
		tokenID, clientID, secret, secretURL = d.createToken("ui-ci-job", "720h")
		if strings.Contains(secretURL, secret) || strings.Contains(run(d, chromedp.Title()), secret) {
			t.Fatal("the secret is in the URL or the title")
		}
		if !strings.Contains(d.text("#headers"), "CF-Access-Client-Secret: "+secret) || !strings.Contains(d.text("#secret-warning"), "only time") {
			t.Fatal("the one-time page lacks the headers or the warning")
		}
		d.click(`button[data-copy="client-secret"]`)
		if status := run(d, chromedp.Poll[string](`document.getElementById("copy-status").textContent || undefined`)); status == "" {
			t.Fatal("the copy button announced nothing")
		}
		if resp := proxyGet(t, ctx, proxy.URL, creds(clientID, secret)); resp.StatusCode != 200 {
			t.Fatalf("the secret from the page: status %d through the proxy", resp.StatusCode)
		}
	})
	if tokenID == "" {
		t.Fatal("no token to go on with")
	}

	t.Run("reload and back do not show the secret again", func(t *testing.T) {
		d.t = t
		secret := d.secrets[len(d.secrets)-1]
		resp := run(d, chromedp.NavigateResponse(secretURL))
		d.snap("secret-gone")
		if resp.Status != http.StatusGone || strings.Contains(d.bodyText(), secret) || !d.exists("#secret-gone") {
			t.Fatalf("second view: status %d:\n%s", resp.Status, d.bodyText())
		}
		if err := d.do(chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(d.bodyText(), secret) {
			t.Fatal("reload shows the secret")
		}
		d.open("tokens", "/ui/tokens")
		if err := d.do(chromedp.NavigateBack()); err != nil {
			t.Fatal(err)
		}
		// A page restored from the back/forward cache reloads itself.
		gone := run(d, chromedp.Poll[bool](`document.readyState === "complete" && document.getElementById("secret-gone") !== null || undefined`,
			chromedp.WithPollingTimeout(5*time.Second)))
		if !gone || strings.Contains(d.bodyText(), secret) {
			t.Fatalf("back shows:\n%s", d.bodyText())
		}
	})

	t.Run("rotate with a grace period", func(t *testing.T) {
		d.t = t
		id, clientID, oldSecret, _ := d.createToken("ui-rotated", "8760h")
		if st := d.open("token", "/ui/tokens/"+id); st != 200 {
			t.Fatalf("token page: %d", st)
		}
		d.click(`input[name=grace][value="1h"]`)
		if st := d.submit("secret-rotated", `form[action$="/rotate"] button[type=submit]`); st != 200 {
			t.Fatalf("rotate: %d\n%s", st, d.bodyText())
		}
		newSecret := strings.TrimSpace(d.text("#client-secret"))
		d.secrets = append(d.secrets, newSecret)
		if newSecret == oldSecret || !strings.HasPrefix(newSecret, "svcauth_cs_") || strings.TrimSpace(d.text("#client-id")) != clientID {
			t.Fatalf("rotation showed client id %q secret %q", d.text("#client-id"), newSecret)
		}
		if !strings.Contains(d.bodyText(), "previous secret keeps working until") {
			t.Fatalf("rotation page:\n%s", d.bodyText())
		}
		// Neither secret was used through the proxy before: both go to the issuer.
		for name, s := range map[string]string{"old": oldSecret, "new": newSecret} {
			if resp := proxyGet(t, ctx, proxy.URL, creds(clientID, s)); resp.StatusCode != 200 {
				t.Errorf("%s secret after rotation with grace: status %d", name, resp.StatusCode)
			}
		}
	})

	t.Run("delete with a confirmation naming the policies", func(t *testing.T) {
		d.t = t
		id, clientID, secret, _ := d.createToken("ui-doomed", "24h")
		// Name it in a policy, with the token picker.
		if st := d.open("apps", "/ui/apps"); st != 200 {
			t.Fatalf("apps page: %d", st)
		}
		if st := d.submit("app", chromedp.CSS(`a[href="/ui/apps/`+app.ID+`"]`)); st != 200 {
			t.Fatalf("app page: %d", st)
		}
		if st := d.submit("policy-new", `a[href$="/policies/new"]`); st != 200 {
			t.Fatalf("policy form: %d", st)
		}
		d.set(`#policy-name`, "ui-doomed-policy")
		d.click(chromedp.CSS(`input[name=include][value="token:` + id + `"]`))
		if st := d.submit("app", `form[action$="/policies"] button[type=submit]`); st != 200 {
			t.Fatalf("add policy: %d\n%s", st, d.bodyText())
		}
		if !strings.Contains(d.text("#policies-table"), "ui-doomed-policy") {
			t.Fatalf("the app page does not list the new policy:\n%s", d.bodyText())
		}

		d.open("token", "/ui/tokens/"+id)
		if st := d.submit("token-delete", `a[href$="/delete"]`); st != 200 {
			t.Fatalf("confirmation page: %d", st)
		}
		named := d.text("#delete-policies")
		if !strings.Contains(named, "e2e-app") || !strings.Contains(named, "ui-doomed-policy") {
			t.Fatalf("the confirmation does not name the policy: %q", named)
		}
		if st := d.submit("tokens", `#confirm-delete`); st != 200 {
			t.Fatalf("delete: %d", st)
		}
		if msg := d.text(".alert-success"); !strings.Contains(msg, "Deleted the service token ui-doomed and removed it from 1 policy") {
			t.Fatalf("after delete: %q", msg)
		}
		if strings.Contains(d.text("#tokens-table"), "ui-doomed") {
			t.Fatal("the deleted token is still listed")
		}
		if resp := proxyGet(t, ctx, proxy.URL, creds(clientID, secret)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the deleted token's secret: status %d, want 401", resp.StatusCode)
		}
	})

	t.Run("revoke existing sessions", func(t *testing.T) {
		d.t = t
		id, clientID, secret, _ := d.createToken("ui-session-holder", "24h")
		_ = id
		resp := proxyGet(t, ctx, proxy.URL, creds(clientID, secret))
		var cookie string
		for _, c := range resp.Cookies() {
			if c.Name == "CF_Authorization" {
				cookie = c.Value
			}
		}
		if resp.StatusCode != 200 || cookie == "" {
			t.Fatalf("exchange: status %d, cookie %v", resp.StatusCode, cookie != "")
		}
		oldCookie := map[string]string{"Cookie": "CF_Authorization=" + cookie}
		if resp := proxyGet(t, ctx, proxy.URL, oldCookie); resp.StatusCode != 200 {
			t.Fatalf("the session cookie before revocation: %d", resp.StatusCode)
		}
		time.Sleep(1100 * time.Millisecond) // sessions are stamped in whole seconds

		d.open("app", "/ui/apps/"+app.ID)
		if st := d.submit("app-revoke", `a[href$="/revoke-sessions"]`); st != 200 {
			t.Fatalf("confirmation page: %d", st)
		}
		if st := d.submit("app", `#confirm-revoke`); st != 200 {
			t.Fatalf("revoke: %d", st)
		}
		if msg := d.text(".alert-success"); !strings.Contains(msg, "Revoked the sessions of e2e-app") {
			t.Fatalf("after revoke: %q", msg)
		}
		d.open("audit-revoked", "/ui/audit?event=sessions.revoked")
		row := d.text(`tr[data-event="sessions.revoked"]`)
		if !strings.Contains(row, "e2e-app") || !strings.Contains(row, "initial") {
			t.Fatalf("audit row: %q", row)
		}
		// Credentials exchange again at once.
		if resp := proxyGet(t, ctx, proxy.URL, creds(clientID, secret)); resp.StatusCode != 200 {
			t.Fatalf("a new exchange after revocation: %d", resp.StatusCode)
		}
		// The old cookie is refused once the filter has synced with the
		// issuer; filter-config must carry the sync path for that.
		if !filterSyncs(t, config) {
			t.Fatal("filter-config has no issuer.sync_path: the filter cannot learn of revocations")
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp := proxyGet(t, ctx, proxy.URL, oldCookie)
			if resp.StatusCode == http.StatusUnauthorized {
				t.Logf("the filter refused the revoked session cookie after %s", time.Since(deadline.Add(-15*time.Second)).Round(100*time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the revoked session cookie is still accepted (status %d) 15 s after the revocation", resp.StatusCode)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})

	t.Run("CSRF: forged POSTs are refused and change nothing", func(t *testing.T) {
		d.t = t
		target := d.base + "/ui/tokens/" + tokenID + "/disable"
		// Same origin, without the token: a form the page itself submits
		// (the dashboard's CSP forbids fetch and XHR).
		d.open("token", "/ui/tokens/"+tokenID)
		ctxR, cancelR := context.WithTimeout(d.ctx, 15*time.Second)
		resp, err := chromedp.RunResponse(ctxR, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const f = document.createElement("form");
			f.method = "post";
			f.action = %s;
			document.body.appendChild(f);
			f.submit();
		})()`, jsString(target))))
		cancelR()
		if err != nil {
			t.Fatal(err)
		}
		d.snap("csrf-refused")
		if resp.Status != http.StatusForbidden || !strings.Contains(d.bodyText(), "Nothing was changed") {
			t.Fatalf("same-origin POST without the CSRF token: status %d, want 403:\n%s", resp.Status, d.bodyText())
		}
		// From another origin: an auto-submitting form on another port.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><title>evil</title><form method="post" action="%s"><input name="csrf" value="guess"></form><script>document.forms[0].submit()</script>`, target)
		}))
		defer evil.Close()
		if err := d.do(chromedp.Navigate(evil.URL)); err != nil {
			t.Fatal(err)
		}
		landed := run(d, chromedp.Poll[int](`location.href.startsWith(`+jsString(d.base)+`) && document.readyState === "complete" ? performance.getEntriesByType("navigation")[0].responseStatus : undefined`,
			chromedp.WithPollingTimeout(10*time.Second)))
		d.snap("csrf-refused")
		if landed != http.StatusForbidden || !strings.Contains(d.bodyText(), "refused") {
			t.Fatalf("cross-site form POST: status %d:\n%s", landed, d.bodyText())
		}
		d.open("token", "/ui/tokens/"+tokenID)
		if st := d.text("#token-status"); st != "Active" {
			t.Fatalf("after forged POSTs the token is %q", st)
		}
		var events []struct{ Event string }
		if err := issuer.CLI(ctx, &events, "audit", "--token", tokenID); err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Event == "token.updated" {
				t.Fatal("a forged POST changed the token")
			}
		}
	})

	t.Run("audit log, applications and filter configuration", func(t *testing.T) {
		d.t = t
		d.open("audit", "/ui/audit")
		d.set(`#f-event`, "token.created")
		if st := d.submit("audit-filtered", `form.filters button[type=submit]`); st != 200 {
			t.Fatalf("filter: %d", st)
		}
		rows := run(d, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#audit-table tbody tr")).map(r => r.dataset.event + " " + r.querySelector(".token-name").textContent + " " + r.cells[4].textContent)`))
		if len(rows) < 4 {
			t.Fatalf("token.created rows: %q", rows)
		}
		for _, r := range rows {
			if !strings.HasPrefix(r, "token.created ") {
				t.Fatalf("filtered row %q", r)
			}
		}
		if !strings.Contains(rows[0], "ui-session-holder initial") {
			t.Fatalf("newest row %q: want the last token created, by the admin key initial", rows[0])
		}
		d.open("apps", "/ui/apps")
		if !strings.Contains(d.text("#apps-table"), "e2e-app") {
			t.Fatal("the applications page does not list e2e-app")
		}
		d.open("app-filter", "/ui/apps/"+app.ID+"/filter-config")
		var cfg struct {
			Audience string `json:"audience"`
		}
		if err := json.Unmarshal([]byte(d.text("#filter-json")), &cfg); err != nil || cfg.Audience != app.Aud {
			t.Fatalf("filter configuration: %v, audience %q", err, cfg.Audience)
		}
		if istio := d.text("#istio-yaml"); !strings.Contains(istio, "kind: WasmPlugin") || !strings.Contains(istio, app.Aud) || !strings.Contains(istio, "outbound|") {
			t.Fatalf("Istio WasmPlugin:\n%s", istio)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		d.t = t
		d.open("tokens", "/ui/tokens")
		if st := d.submit("signed-out", `form.signout button[type=submit]`); st != 200 {
			t.Fatalf("sign out: %d", st)
		}
		if !strings.Contains(d.bodyText(), "You are signed out") {
			t.Fatalf("after sign-out:\n%s", d.bodyText())
		}
		d.open("login", "/ui/apps")
		if !strings.Contains(d.location(), "/ui/login") {
			t.Fatalf("after sign-out /ui/apps went to %s", d.location())
		}
	})

	t.Run("no secret in URLs, titles, history or logs", func(t *testing.T) {
		d.t = t
		history := run(d, chromedp.NavigationEntries())
		if len(history.Entries) < 10 {
			t.Fatalf("history has %d entries", len(history.Entries))
		}
		for _, e := range history.Entries {
			for _, s := range d.secrets {
				if strings.Contains(e.URL, s) || strings.Contains(e.Title, s) {
					t.Fatalf("history entry %q / %q holds a secret", e.URL, e.Title)
				}
			}
		}
		out := issuer.Output()
		for i, s := range d.secrets {
			want := 0
			if s == issuer.AdminKey {
				want = 1 // the "shown once" line at first start
			}
			if n := strings.Count(out, s); n != want {
				t.Fatalf("secret %d appears %d times in the issuer's output", i, n)
			}
		}
		if n := strings.Count(out, "dashboard request"); n < 20 {
			t.Fatalf("the issuer logged %d dashboard requests", n)
		}
	})
}

// filterSyncs reports whether the filter configuration at path has the
// issuer sync path, that is whether the filter learns revocations.
func filterSyncs(t *testing.T, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Issuer map[string]any `json:"issuer"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	_, ok := cfg.Issuer["sync_path"]
	return ok
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
