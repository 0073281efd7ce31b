package supervise

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"keeper/supervise/http1"
	"keeper/supervise/xmlrpc"
)

// The web page: supervisord's status page (programs with start, stop,
// restart, clear log and a live tail; restart all, stop all) plus each
// program's sessions, on a control server whose section says web = true.
//
// Its paths, under that server's own authentication (Basic on TCP, peer
// credentials on the unix socket):
//
//	GET  /                  the page, rendered on the server: without JavaScript it is a
//	                        plain table whose buttons are forms
//	GET  /static/NAME       the page's script and style, embedded in the binary
//	GET  /events            server-sent events: the status, again whenever it changes
//	POST /action            start, stop, restart, clear, startall, stopall, restartall, kill
//	GET  /session/PROG/NAME and below: the session in the page (web_attach = true),
//	                        served by serveSessionPage
//
// Every action is a POST carrying the page's token; a request whose Origin
// (or, without one, Referer) names another site is refused, so another site
// cannot make a logged-in browser act. Pages carry a strict
// Content-Security-Policy, and every name and log line is text, never HTML.

// webFiles is the page's source; web/status.png, the README's picture of
// it, stays out of the binary.
//
//go:embed web/index.html web/app.js web/style.css web/term.html web/term.js
var webFiles embed.FS

var webTemplate = template.Must(template.ParseFS(webFiles, "web/index.html", "web/term.html"))

// webCSP allows the page its own script, style and requests, nothing else.
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// webRefresh is how often an open page gets the status even when no state
// changed: resource figures and sessions move without events.
const webRefresh = 5 * time.Second

// webCoalesce bounds how often one page gets the status while states
// change in bursts (a restart all).
const webCoalesce = 100 * time.Millisecond

// newWebToken returns a random secret for the page's forms.
func newWebToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("keeper: no randomness for the web page's token: " + err.Error())
	}
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// serveWeb answers the page's paths on a server with web on, and reports
// whether path was one of them.
func (d *Daemon) serveWeb(w http1.ResponseWriter, r *http1.Request, web WebConfig) bool {
	switch {
	case r.Path == "/":
		d.webIndex(w, r, web)
	case r.Path == "/static/app.js":
		webStatic(w, r, "web/app.js", "text/javascript; charset=utf-8")
	case r.Path == "/static/style.css":
		webStatic(w, r, "web/style.css", "text/css; charset=utf-8")
	case r.Path == "/static/term.js":
		webStatic(w, r, "web/term.js", "text/javascript; charset=utf-8")
	case r.Path == "/events":
		d.webEvents(w, r, web)
	case r.Path == "/action":
		d.webAction(w, r)
	case strings.HasPrefix(r.Path, "/program/") && web.Attach:
		name, sub, _ := strings.Cut(strings.TrimPrefix(r.Path, "/program/"), "/")
		d.serveProgramTerminal(w, r, name, sub)
	case strings.HasPrefix(r.Path, "/session/") && web.Attach:
		program, rest, _ := strings.Cut(strings.TrimPrefix(r.Path, "/session/"), "/")
		session, sub, _ := strings.Cut(rest, "/")
		d.serveSessionPage(w, r, program, session, sub)
	default:
		return false
	}
	return true
}

func webHeaders(w http1.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", webCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func webStatic(w http1.ResponseWriter, r *http1.Request, name, contentType string) {
	if r.Method != "GET" && r.Method != "HEAD" {
		methodNotAllowed(w, "GET")
		return
	}
	b, err := webFiles.ReadFile(name)
	if err != nil {
		notFound(w)
		return
	}
	webHeaders(w, contentType)
	w.WriteHeader(200)
	if r.Method == "GET" {
		w.Write(b)
	}
}

func methodNotAllowed(w http1.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	w.WriteHeader(405)
	w.Write([]byte("405 method not allowed: use " + allow + "\n"))
}

// webStatus is what the page shows, for the template and for /events.
type webStatus struct {
	Identification string       `json:"identification"`
	Programs       []webProgram `json:"programs"`
	Attach         bool         `json:"attach"` // sessions open in the page
	Token          string       `json:"-"`
	Message        string       `json:"-"`
}

type webProgram struct {
	Namespec    string       `json:"namespec"`
	Group       string       `json:"group"`
	Name        string       `json:"name"`
	State       string       `json:"state"`
	Description string       `json:"description"`
	Running     bool         `json:"running"`
	Terminal    bool         `json:"terminal"` // pty = true and running: it opens in the page
	CPU         string       `json:"cpu"`
	Memory      string       `json:"memory"`
	Sessions    []webSession `json:"sessions"`
}

type webSession struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Clients int    `json:"clients"`
	Age     string `json:"age"`
	CPU     string `json:"cpu"`
	Memory  string `json:"memory"`
}

// webShared is the status last read for a page, for the other pages to
// share: they wake together (on a state change, or at the same webRefresh
// boundary), so one reading of the processes serves them all however many
// are open.
type webShared struct {
	mu      sync.Mutex
	changed chan struct{} // the daemon's changed channel when it was read; nil before the first
	slice   int64         // the webRefresh slice it was read in
	st      webStatus     // without Attach, which is the server's
}

// get returns the status read in the same change generation and slice, or
// reads it anew with read. Pages asking while it is read wait for it.
func (s *webShared) get(changed chan struct{}, slice int64, read func() webStatus) webStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != changed || s.slice != slice {
		s.st, s.changed, s.slice = read(), changed, slice
	}
	return s.st
}

// untilRefresh is the time to the next webRefresh boundary, at which every
// open page refreshes.
func untilRefresh(now time.Time) time.Duration {
	return webRefresh - time.Duration(now.UnixNano()%int64(webRefresh))
}

// webStatusNow returns the status the page shows, read at most once per
// state change and webRefresh slice for all the pages.
func (d *Daemon) webStatusNow(web WebConfig) webStatus {
	now := time.Now()
	d.mu.Lock()
	changed := d.changed
	d.mu.Unlock()
	st := d.webShared.get(changed, now.UnixNano()/int64(webRefresh), func() webStatus { return d.readWebStatus(now) })
	st.Attach = web.Attach
	return st
}

// readWebStatus reads the programs, the sessions and their figures.
func (d *Daemon) readWebStatus(now time.Time) webStatus {
	st := webStatus{Identification: "keeper " + Version, Token: d.webToken}
	sessions, usage, sessionUsage := d.readUsage()
	d.mu.Lock()
	for _, p := range d.processesLocked(true) {
		info := d.processInfoLocked(p, now)
		wp := webProgram{Namespec: info.Namespec(), Group: info.Group, Name: info.Name,
			State: info.StateName, Description: info.Description, Running: info.PID != 0,
			Terminal: p.cfg.Pty && info.PID != 0}
		wp.CPU, wp.Memory = webFigures(usage, wp.Namespec)
		st.Programs = append(st.Programs, wp)
	}
	d.mu.Unlock()
	for _, s := range sessions {
		for i := range st.Programs {
			if st.Programs[i].Namespec == s.Program {
				ws := webSession{Name: s.Name, State: s.State(), Clients: s.Clients, Age: humanAge(now.Sub(s.Created))}
				ws.CPU, ws.Memory = webFigures(sessionUsage, s.Socket)
				st.Programs[i].Sessions = append(st.Programs[i].Sessions, ws)
			}
		}
	}
	return st
}

// webFigures words the CPU and memory of usage[key] for the page, "" for
// both when they could not be read.
func webFigures(usage map[string]Usage, key string) (cpu, memory string) {
	u, ok := usage[key]
	if !ok {
		return "", ""
	}
	return fmt.Sprintf("%.1f%%", u.CPUPercent), FormatBytes(u.RSS)
}

func humanAge(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

func (d *Daemon) webIndex(w http1.ResponseWriter, r *http1.Request, web WebConfig) {
	if r.Method != "GET" && r.Method != "HEAD" {
		methodNotAllowed(w, "GET")
		return
	}
	st := d.webStatusNow(web)
	st.Message = actionMessage(r)
	d.writePage(w, r, "index.html", st)
}

// writePage answers a GET or HEAD with the page template name makes of
// data, rendered whole first so that a template error is a 500, not half
// a page.
func (d *Daemon) writePage(w http1.ResponseWriter, r *http1.Request, name string, data any) {
	var b strings.Builder
	if err := webTemplate.ExecuteTemplate(&b, name, data); err != nil {
		d.log.Errorf("web page: %v", err)
		w.WriteHeader(500)
		return
	}
	webHeaders(w, "text/html; charset=utf-8")
	w.WriteHeader(200)
	if r.Method == "GET" {
		w.Write([]byte(b.String()))
	}
}

// actionMessage is the outcome an action's 303 put in the page's URL, said
// only when the page itself asked for it (its Referer is this site): a link
// from elsewhere, or typed, cannot put words on the page.
func actionMessage(r *http1.Request) string {
	u, err := url.ParseRequestURI(r.Target)
	if err != nil || r.Header.Get("Referer") == "" || crossSite(r) != "" {
		return ""
	}
	return u.Query().Get("message")
}

// webEvents streams the status as server-sent events: at once, whenever a
// state changes (at most every webCoalesce), and at every webRefresh
// boundary (the same moments for every page: see webShared). A page
// that stops reading holds only its own stream: the daemon never waits
// for it.
func (d *Daemon) webEvents(w http1.ResponseWriter, r *http1.Request, web WebConfig) {
	if r.Method != "GET" {
		methodNotAllowed(w, "GET")
		return
	}
	if why := crossSite(r); why != "" {
		d.refuseWeb(w, r, why)
		return
	}
	webHeaders(w, "text/event-stream")
	w.WriteHeader(200)
	ctx := r.Context()
	for {
		d.mu.Lock()
		changed := d.changed
		d.mu.Unlock()
		if _, err := w.Write(statusEvent(d.webStatusNow(web))); err != nil || w.Flush() != nil {
			return
		}
		select {
		case <-changed:
		case <-time.After(untilRefresh(time.Now())):
		case <-ctx.Done():
			return
		case <-d.stopped:
			return
		}
		select {
		case <-time.After(webCoalesce):
		case <-ctx.Done():
			return
		}
	}
}

// statusEvent is st as one server-sent event: a single data line, since
// JSON escapes every line break (CR, LF; and U+2028, U+2029 for scripts)
// inside strings.
func statusEvent(st webStatus) []byte {
	b, _ := json.Marshal(st)
	return append(append([]byte("data: "), b...), "\n\n"...)
}

// crossSite says why r may come from a page of another site, "" when it
// does not: browsers name the page a request comes from in Origin (every
// POST, every cross-origin request), or at least in Referer.
func crossSite(r *http1.Request) string {
	host := r.Header.Get("Host")
	if origin := r.Header.Get("Origin"); origin != "" {
		if !sameSite(origin, host) {
			return fmt.Sprintf("a request from another site (Origin %q)", origin)
		}
		return ""
	}
	if ref := r.Header.Get("Referer"); ref != "" && !sameSite(ref, host) {
		return fmt.Sprintf("a request from another site (Referer %q)", ref)
	}
	return ""
}

// sameSite reports whether the URL u is on host (the request's Host).
func sameSite(u, host string) bool {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return false
	}
	return strings.EqualFold(parsed.Host, host)
}

// checkWebRequest lets through a state-changing request only from the page
// itself: from this site (crossSite) and with the page's token. Others get
// 403 and are logged.
func (d *Daemon) checkWebRequest(w http1.ResponseWriter, r *http1.Request, token string) bool {
	why := crossSite(r)
	if why == "" && !hmac.Equal([]byte(token), []byte(d.webToken)) {
		why = "a missing or wrong token (reload the page)"
	}
	if why != "" {
		d.refuseWeb(w, r, why)
		return false
	}
	return true
}

func (d *Daemon) refuseWeb(w http1.ResponseWriter, r *http1.Request, why string) {
	peer := r.RemoteAddr
	if peer == "" {
		peer = "the control socket"
	}
	d.log.Warnf("web page: refused %s %s from %s: %s", r.Method, r.Path, peer, why)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(403)
	w.Write([]byte("403 forbidden: " + why + "\n"))
}

// webAction runs one of the page's actions. The page's script asks for a
// JSON answer (X-Keeper-Web); a plain form gets a redirect back to the page,
// with the outcome in its message.
func (d *Daemon) webAction(w http1.ResponseWriter, r *http1.Request) {
	if r.Method != "POST" {
		methodNotAllowed(w, "POST")
		return
	}
	form, err := url.ParseQuery(string(r.Body))
	if err != nil {
		form = url.Values{}
	}
	if !d.checkWebRequest(w, r, form.Get("token")) {
		return
	}
	action, name := form.Get("action"), form.Get("name")
	message, err := d.runWebAction(r.Context(), action, name, form.Get("session"))
	if err != nil {
		message = err.Error()
	}
	if r.Header.Get("X-Keeper-Web") != "" {
		b, _ := json.Marshal(map[string]any{"ok": err == nil, "message": message})
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(409)
		} else {
			w.WriteHeader(200)
		}
		w.Write(b)
		return
	}
	w.Header().Set("Location", "/?message="+url.QueryEscape(message))
	w.WriteHeader(303)
}

// runWebAction does what the page's button asks, through the same methods
// as supervisorctl's commands.
func (d *Daemon) runWebAction(ctx context.Context, action, name, session string) (string, error) {
	call := func(method string, args ...any) error {
		_, err := d.Handle(ctx, method, args)
		return err
	}
	notRunning := func(err error) bool {
		var f *xmlrpc.Fault
		return errors.As(err, &f) && f.Code == FaultNotRunning
	}
	switch action {
	case "start":
		return name + ": started", call("supervisor.startProcess", name, false)
	case "stop":
		return name + ": stopped", call("supervisor.stopProcess", name, true)
	case "restart":
		if err := call("supervisor.stopProcess", name, true); err != nil && !notRunning(err) {
			return "", err
		}
		return name + ": restarted", call("supervisor.startProcess", name, false)
	case "clear":
		return name + ": log cleared", call("supervisor.clearProcessLogs", name)
	case "startall":
		return "started all", call("supervisor.startAllProcesses", false)
	case "stopall":
		return "stopped all", call("supervisor.stopAllProcesses", true)
	case "restartall":
		if err := call("supervisor.stopAllProcesses", true); err != nil {
			return "", err
		}
		return "restarted all", call("supervisor.startAllProcesses", false)
	case "kill":
		list, err := d.Sessions([]string{name})
		if err != nil {
			return "", err
		}
		for _, s := range list {
			if s.Program == name && s.Name == session {
				d.reapSessions([]Session{s})
				return fmt.Sprintf("%s: session %s killed", name, session), nil
			}
		}
		return "", fmt.Errorf("%s has no session %s", name, strconv.Quote(session))
	}
	return "", fmt.Errorf("unknown action %s", strconv.Quote(action))
}
