package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// hostileName is a program name that is HTML (names cannot have spaces or
// slashes: issue 17's <img src=x onerror=...> is not a name); the page
// must show it as text.
const hostileName = `<script>alert("x")&'`

// webConf has the page on a loopback port behind Basic auth: a program
// that prints a line with HTML in it, one that sleeps, one with a hostile
// name, and one that leaves a session.
const webConf = `
[inet_http_server]
port=127.0.0.1:@PORT@
username=u
password=p
web=true

[program:printer]
command=/bin/sh -c 'echo "<b>bold</b> & more"; while read l; do echo "got $l"; done'
startsecs=0

[program:sleeper]
command=@DIR@/sleepy 1001
startsecs=0

[program:` + hostileName + `]
command=@DIR@/sleepy 1002
startsecs=0

[program:term]
command=/bin/sh -c '@KEEPER@ dtach -n @DIR@/t.sock @DIR@/sleepy 1003; exec @DIR@/sleepy 1004'
startsecs=0
`

// webDaemon starts keeper on webConf and returns it with the page's URL.
func webDaemon(t *testing.T) (*keeperd, string) {
	t.Helper()
	port := freePort(t)
	conf := strings.NewReplacer("@PORT@", strconv.Itoa(port), "@KEEPER@", keeperBin).Replace(webConf)
	k := newKeeperd(t, conf)
	k.start()
	for _, name := range []string{"printer", "sleeper", "term"} {
		k.waitState(name, 10*time.Second, "RUNNING")
	}
	oneSession(t, k)
	return k, fmt.Sprintf("http://127.0.0.1:%d", port)
}

type webClient struct {
	t    *testing.T
	base string
}

// do sends a request with the page's credentials and returns the answer.
func (c webClient) do(method, path string, header map[string]string, body string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth("u", "p")
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var tokenRE = regexp.MustCompile(`name="keeper-token" content="([0-9a-f]{64})"`)

// TestWebPage: the page lists the programs, their sessions and their
// figures, with names and log lines as text; actions need a POST from the
// page itself with its token; no credentials, no page.
func TestWebPage(t *testing.T) {
	t.Parallel()
	k, base := webDaemon(t)
	c := webClient{t, base}

	// Without credentials: supervisord's 401.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("GET / without credentials: %d %v, want 401 with a challenge", resp.StatusCode, resp.Header)
	}

	resp, page := c.do("GET", "/", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %d %s", resp.StatusCode, page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, " on") && regexp.MustCompile(`<[^>]+ on[a-z]+=`).MatchString(page) {
		t.Errorf("the page has inline script:\n%s", page)
	}
	for _, want := range []string{"printer", "sleeper", "RUNNING", "t.sock", html(hostileName)} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, hostileName) {
		t.Errorf("the page has the hostile name as HTML:\n%s", page)
	}
	// A session's row has its own figures, as its program's has.
	if !regexp.MustCompile(`(?s)<tr class="session".*?<td class="cpu">[0-9.]+%</td>\s*<td class="memory">[0-9.]+[KMG]</td>`).MatchString(page) {
		t.Errorf("the session's row lacks its CPU and memory:\n%s", page)
	}
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in the page:\n%s", page)
	}
	token := m[1]

	// The events stream starts with the whole status, as JSON text.
	resp, first := c.firstEvent("/events")
	if resp.StatusCode != 200 || !strings.Contains(first, `"namespec":"printer"`) || strings.Contains(first, hostileName) {
		t.Errorf("GET /events: %d, first event %q", resp.StatusCode, first)
	}

	// Refusals: no action by GET, none without the token, none from
	// another site even with it.
	form := url.Values{"token": {token}, "action": {"stop"}, "name": {"sleeper"}}
	for _, tc := range []struct {
		name, method, body string
		header             map[string]string
		want               int
	}{
		{"GET", "GET", "", nil, 405},
		{"no token", "POST", "action=stop&name=sleeper", nil, 403},
		{"wrong token", "POST", "action=stop&name=sleeper&token=" + strings.Repeat("0", 64), nil, 403},
		{"another Origin", "POST", form.Encode(), map[string]string{"Origin": "http://evil.example"}, 403},
		{"another Referer", "POST", form.Encode(), map[string]string{"Referer": "http://evil.example/page"}, 403},
		{"Origin null", "POST", form.Encode(), map[string]string{"Origin": "null"}, 403},
	} {
		resp, body := c.do(tc.method, "/action", tc.header, tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	if resp, _ := c.do("GET", "/events", map[string]string{"Origin": "http://evil.example"}, ""); resp.StatusCode != 403 {
		t.Errorf("GET /events from another site: %d, want 403", resp.StatusCode)
	}
	if s := statename(k.info("sleeper")); s != "RUNNING" {
		t.Fatalf("a refused request changed sleeper: %s", s)
	}

	// The page's own form (no script): 303 back to the page, which says
	// what happened; the daemon agrees.
	resp, _ = c.do("POST", "/action", map[string]string{"Origin": base}, form.Encode())
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/?message=") {
		t.Fatalf("stop by form: %d %v", resp.StatusCode, resp.Header)
	}
	if s := statename(k.info("sleeper")); s != "STOPPED" {
		t.Errorf("after stop, sleeper is %s", s)
	}
	_, page = c.do("GET", resp.Header.Get("Location"), map[string]string{"Referer": base + "/"}, "")
	if !strings.Contains(page, "sleeper: stopped") {
		t.Errorf("the page does not say sleeper stopped:\n%s", page)
	}
	// A link from another site cannot put words on the page.
	_, page = c.do("GET", "/?message=log+in+again+at+evil.example", map[string]string{"Referer": "http://evil.example/"}, "")
	if strings.Contains(page, "evil.example") {
		t.Errorf("a link from another site put its message on the page:\n%s", page)
	}

	// The script's way: JSON back; an error is said, not hidden.
	form.Set("action", "start")
	resp, body := c.do("POST", "/action", map[string]string{"X-Keeper-Web": "1"}, form.Encode())
	if resp.StatusCode != 200 || !strings.Contains(body, `"ok":true`) {
		t.Errorf("start by script: %d %s", resp.StatusCode, body)
	}
	k.waitState("sleeper", 10*time.Second, "RUNNING")
	form.Set("name", "nosuch")
	resp, body = c.do("POST", "/action", map[string]string{"X-Keeper-Web": "1"}, form.Encode())
	if resp.StatusCode != 409 || !strings.Contains(body, "BAD_NAME") {
		t.Errorf("start of an unknown program: %d %s", resp.StatusCode, body)
	}

	// Killing a session from the page.
	s := oneSession(t, k)
	kill := url.Values{"token": {token}, "action": {"kill"}, "name": {"term"}, "session": {s.Name}}
	resp, body = c.do("POST", "/action", map[string]string{"X-Keeper-Web": "1"}, kill.Encode())
	if resp.StatusCode != 200 {
		t.Errorf("kill session: %d %s", resp.StatusCode, body)
	}
	if processAlive(s.PID) {
		t.Errorf("the session's master %d is alive after kill", s.PID)
	}
	// With web_attach off, no session opens in the page.
	if resp, _ := c.do("GET", "/session/term/t.sock", nil, ""); resp.StatusCode != 404 {
		t.Errorf("GET /session/... with web_attach off: %d, want 404", resp.StatusCode)
	}
	// Static files carry the same policy.
	if resp, _ := c.do("GET", "/static/app.js", nil, ""); resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /static/app.js: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestWebOff: without web = true the page is not there, on either server.
func TestWebOff(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	k := newKeeperd(t, fmt.Sprintf("[inet_http_server]\nport=127.0.0.1:%d\n\n[program:a]\ncommand=@DIR@/sleepy 1000\n", port))
	k.start()
	for _, path := range []string{"/", "/events", "/static/app.js"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s with web off: %d, want 404", path, resp.StatusCode)
		}
	}
}

// firstEvent reads the first server-sent event of path.
func (c webClient) firstEvent(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.SetBasicAuth("u", "p")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan string, 1)
	go func() {
		var b []byte
		buf := make([]byte, 4096)
		for !strings.Contains(string(b), "\n\n") {
			n, err := resp.Body.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				break
			}
		}
		done <- string(b)
	}()
	select {
	case s := <-done:
		return resp, s
	case <-time.After(10 * time.Second):
		c.t.Fatalf("GET %s: no event in 10s", path)
	}
	return resp, ""
}

// html escapes s as html/template does in text.
func html(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// TestWebBrowser drives the page in Debian's chromium: it lists the
// programs, a stop click makes the row say STOPPED (pushed by the daemon)
// and the daemon agrees, the tail shows a line printed after the page
// loaded, and HTML in names and log lines stays text.
func TestWebBrowser(t *testing.T) {
	t.Parallel()
	k, base := webDaemon(t)
	ctx := browser(t, "u", "p", 1000, 700)
	row := func(name string) string { return `tr.program[data-namespec="` + name + `"]` }
	inTab(t, ctx, 20*time.Second, "load the page",
		chromedp.Navigate(base+"/"),
		waitText(row("sleeper")+" td.state", "RUNNING"),
		waitText("#programs tbody", hostileName))
	if memory := evaluate[string](t, ctx, `document.querySelector("tr.session td.memory").textContent`); !regexp.MustCompile(`^[0-9.]+[KMG]$`).MatchString(memory) {
		t.Errorf("the session's row says memory %q", memory)
	}
	if scripts := evaluate[int](t, ctx, `document.querySelectorAll("#programs script, #programs img").length`); scripts != 0 {
		t.Errorf("the hostile name made %d elements", scripts)
	}
	screenshot(t, ctx, "status")

	inTab(t, ctx, 20*time.Second, "stop sleeper and see it STOPPED",
		chromedp.Click(chromedp.CSS(row("sleeper")+` button[value="stop"]`)),
		waitText(row("sleeper")+" td.state", "STOPPED"),
		waitText("#message", "sleeper: stopped"))
	if s := statename(k.info("sleeper")); s != "STOPPED" {
		t.Errorf("the page says STOPPED, the daemon %s", s)
	}

	inTab(t, ctx, 20*time.Second, "open the tail",
		chromedp.Click(chromedp.CSS(row("printer")+" a.tail")),
		waitText("#tail-text", "<b>bold</b> & more"))
	k.mustCall("supervisor.sendProcessStdin", "printer", "after-load\n")
	inTab(t, ctx, 20*time.Second, "see a line printed after the page loaded",
		waitText("#tail-text", "got after-load"))
	if bold := evaluate[int](t, ctx, `document.querySelectorAll("#tail-text *").length`); bold != 0 {
		t.Errorf("the log line's HTML made %d elements", bold)
	}
	screenshot(t, ctx, "status-tail")
}

// webAttachConf has the page with web_attach on, and a program whose
// session drew a box and a red word before any page opened.
const webAttachConf = `
[inet_http_server]
port=127.0.0.1:@PORT@
username=u
password=p
web=true
web_attach=true

[program:term]
command=/bin/sh -c '@KEEPER@ dtach -n @DIR@/t.sock /bin/sh -c "printf \"\\033(0lqqk\\033(B\\n\\033[31mred\\033[0m word\\n\"; PS1=\"$ \" exec /bin/sh -i"; exec @DIR@/sleepy 1004'
startsecs=0
`

// TestWebAttach opens a session in chromium: the page shows the screen
// drawn before it opened (line drawing, colour), typed keys reach the
// shell, the terminal follows the page's size, and closing the tab leaves
// the session and its other client as they were.
func TestWebAttach(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	k := newKeeperd(t, strings.NewReplacer("@PORT@", strconv.Itoa(port), "@KEEPER@", keeperBin).Replace(webAttachConf))
	k.start()
	k.waitState("term", 10*time.Second, "RUNNING")
	s := oneSession(t, k)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	// Keys need the page's token and its site; unknown sessions are 404.
	c := webClient{t, base}
	_, page := c.do("GET", "/session/term/t.sock", nil, "")
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in the session page:\n%s", page)
	}
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		want       int
	}{
		{"keys without token", "/session/term/t.sock/keys", nil, 403},
		{"keys from another site", "/session/term/t.sock/keys", map[string]string{"X-Keeper-Token": m[1], "Origin": "http://evil.example"}, 403},
		{"keys to an unknown session", "/session/term/nosuch/keys", map[string]string{"X-Keeper-Token": m[1]}, 404},
		{"keys to another program's path", "/session/other/t.sock/keys", map[string]string{"X-Keeper-Token": m[1]}, 404},
	} {
		if resp, body := c.do("POST", tc.path, tc.header, "touch @DIR@/pwned\r"); resp.StatusCode != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	if resp, _ := c.do("GET", "/session/term/t.sock/keys", nil, ""); resp.StatusCode != 405 {
		t.Errorf("GET of keys: %d, want 405", resp.StatusCode)
	}
	// The screen's stream (what a WebSocket would carry) is refused to
	// another site before anything attaches to the master.
	streamCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	req, _ := http.NewRequestWithContext(streamCtx, "GET", base+"/session/term/t.sock/events", nil)
	req.SetBasicAuth("u", "p")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("the screen's stream from another site: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()

	// Another client, attached all along.
	other := startTerm(t, k.dir, nil, keeperBin, "attach", s.Socket)
	other.expect(`word`, 10*time.Second)

	ctx := browser(t, "u", "p", 900, 600)
	tab, closeTab := newTab(t, ctx, "u", "p")
	defer closeTab()
	// The status page links to it (the table is redrawn on every event, so
	// the link is followed by its address, not clicked).
	inTab(t, tab, 20*time.Second, "load the status page", chromedp.Navigate(base+"/"),
		chromedp.Poll[chromedp.Void](`document.querySelector("tr.session a.open") !== null`))
	href := evaluate[string](t, tab, `document.querySelector("tr.session a.open").href`)
	if want := base + "/session/term/t.sock"; href != want {
		t.Errorf("the session's link is %q, want %q", href, want)
	}
	inTab(t, tab, 20*time.Second, "open the session",
		chromedp.Navigate(href),
		waitText("#rows", "┌──┐"),
		waitText("#rows", "red word"),
		waitText("#term-status", "attached"))
	if color := evaluate[string](t, tab, `[...document.querySelectorAll("#rows span")].find(e => e.textContent === "red").style.color`); color != "rgb(205, 0, 0)" {
		t.Errorf("the red word is drawn in %q", color)
	}
	screenshot(t, tab, "session")
	checkKeys(t, tab)

	inTab(t, tab, 20*time.Second, "type echo hello",
		chromedp.Focus(chromedp.CSS("#screen")),
		chromedp.KeyEvent("echo hel''lo\r"),
		// The command line has hel''lo; its output is the first hello.
		waitText("#rows", "hello"))
	other.expect("hello", 10*time.Second)

	// The page's size is the terminal's: stty size says what the page
	// says, before and after the window changes.
	sttySays := func(what string) {
		t.Helper()
		var cols, rows int
		status := evaluate[string](t, tab, `document.querySelector("#term-status").textContent`)
		if _, err := fmt.Sscanf(status, "attached, %dx%d", &cols, &rows); err != nil {
			t.Fatalf("%s: status %q", what, status)
		}
		inTab(t, tab, 20*time.Second, what,
			chromedp.KeyEvent("stty size\r"),
			waitText("#rows", fmt.Sprintf("%d %d", rows, cols)))
	}
	sttySays("stty size at first")
	inTab(t, tab, 20*time.Second, "make the page smaller",
		chromedp.EmulateViewport(600, 400),
		chromedp.Poll[chromedp.Void](`!document.querySelector("#term-status").textContent.includes(`+jsString(evaluate[string](t, tab, `document.querySelector("#term-status").textContent`))+`)`))
	sttySays("stty size after a resize")
	screenshot(t, tab, "session-resized")

	// Closing the tab detaches the page's client only.
	closeTab()
	other.send("echo still''here\r")
	other.expect("stillhere", 10*time.Second)
	if !processAlive(s.PID) {
		t.Errorf("the session's master %d is gone after the tab closed", s.PID)
	}
}

// TestWebOnUnixSocket: web = true in [unix_http_server] serves the page
// on the control socket, behind its peer-credential rule (a local reverse
// proxy or an SSH tunnel reaches it there).
func TestWebOnUnixSocket(t *testing.T) {
	t.Parallel()
	k := newKeeperd(t, "[program:a]\ncommand=@DIR@/sleepy 1000\nstartsecs=0\n")
	k.setSections("web=true\n", "")
	k.start()
	k.waitState("a", 10*time.Second, "RUNNING")
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", k.sock)
	}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://keeper/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `data-namespec="a"`) {
		t.Errorf("GET / on the control socket: %d\n%s", resp.StatusCode, b)
	}
}

// TestWebPhoneAndNoScript: on a phone's screen the rows are cards (no
// table head), and with JavaScript off the page is a table of forms whose
// stop brings the page back saying STOPPED, as the daemon does.
func TestWebPhoneAndNoScript(t *testing.T) {
	t.Parallel()
	k, base := webDaemon(t)
	ctx := browser(t, "u", "p", 1000, 700)
	row := func(name string) string { return `tr.program[data-namespec="` + name + `"]` }

	inTab(t, ctx, 20*time.Second, "load the page on a phone's screen",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/"),
		waitText(row("sleeper")+" td.state", "RUNNING"))
	if display := evaluate[string](t, ctx, `getComputedStyle(document.querySelector("thead")).display`); display != "none" {
		t.Errorf("on a phone the table head is shown (display %s), want cards", display)
	}
	if width := evaluate[int](t, ctx, `document.documentElement.scrollWidth`); width > 390 {
		t.Errorf("on a phone the page is %d px wide, more than the screen's 390", width)
	}
	screenshot(t, ctx, "status-phone")

	inTab(t, ctx, 20*time.Second, "load the page without JavaScript",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.EmulateViewport(1000, 700),
		chromedp.Navigate(base+"/"),
		waitText(row("sleeper")+" td.state", "RUNNING"))
	inTab(t, ctx, 20*time.Second, "submit sleeper's stop form",
		chromedp.Click(chromedp.CSS(row("sleeper")+` button[value="stop"]`)))
	// The form's POST and its 303 replace the page: ask the new one.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(pageText(ctx, row("sleeper")+" td.state"), "STOPPED") {
		if time.Now().After(deadline) {
			t.Fatalf("after the stop form the page shows sleeper as %q", pageText(ctx, row("sleeper")+" td.state"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msg := pageText(ctx, "#message"); !strings.Contains(msg, "sleeper: stopped") {
		t.Errorf("the page after the form says %q, want sleeper: stopped", msg)
	}
	// The browser followed the 303 (the script, had it run, posts by fetch
	// and stays on /).
	if where := evaluate[string](t, ctx, `location.pathname + location.search`); !strings.HasPrefix(where, "/?message=") {
		t.Errorf("after the form the page is %s, want the 303's /?message=...", where)
	}
	if s := statename(k.info("sleeper")); s != "STOPPED" {
		t.Errorf("the page says STOPPED, the daemon %s", s)
	}
	screenshot(t, ctx, "status-noscript")
}

// pageText is the text of the element at sel, "" when there is none or
// the page is being replaced.
func pageText(ctx context.Context, sel string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`) || {}).textContent || ""`))
	return s
}

// TestWebAttachPtyProgram: a program on a terminal of its own (pty = true)
// opens in the page as a session does: the status page links to it, and
// typed keys reach it.
func TestWebAttachPtyProgram(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	k := newKeeperd(t, fmt.Sprintf(`
[inet_http_server]
port=127.0.0.1:%d
username=u
password=p
web=true
web_attach=true

[program:shell]
command=/bin/sh -c 'PS1="$ " exec /bin/sh -i'
pty=true
startsecs=0
`, port))
	k.start()
	k.waitState("shell", 10*time.Second, "RUNNING")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx := browser(t, "u", "p", 900, 600)
	inTab(t, ctx, 20*time.Second, "load the status page", chromedp.Navigate(base+"/"),
		chromedp.Poll[chromedp.Void](`document.querySelector('tr.program[data-namespec="shell"] a.open') !== null`))
	href := evaluate[string](t, ctx, `document.querySelector('tr.program[data-namespec="shell"] a.open').href`)
	if want := base + "/program/shell"; href != want {
		t.Fatalf("the program's link is %q, want %q", href, want)
	}
	inTab(t, ctx, 20*time.Second, "type in the program's terminal",
		chromedp.Navigate(href),
		waitText("#term-status", "attached"),
		chromedp.Focus(chromedp.CSS("#screen")),
		chromedp.KeyEvent("echo hel''lo\r"),
		waitText("#rows", "hello"))
	if s := statename(k.info("shell")); s != "RUNNING" {
		t.Errorf("shell is %s after typing in the page", s)
	}
	c := webClient{t, base}
	if resp, _ := c.do("GET", "/program/nosuch", nil, ""); resp.StatusCode != 404 {
		t.Errorf("GET /program/nosuch: %d, want 404", resp.StatusCode)
	}
}
