package supervise

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sync"

	"keeper/supervise/http1"
	"keeper/supervise/webterm"
)

// A session in the page (web_attach = true): the page is a client of the
// session's master through package webterm, which streams the screen's
// state; this file finds the session and routes the page's requests.
// Leaving the page closes the stream, which detaches that client only.
//
//	GET  /session/PROG/NAME                     the page
//	GET  /session/PROG/NAME/events?cols=&rows=  the frames (server-sent events); the first event names the page's id
//	POST /session/PROG/NAME/keys?id=            the body is the keys' bytes
//	POST /session/PROG/NAME/resize              id=&cols=&rows=
//
// A program on a terminal of its own (pty = true) opens the same way at
// /program/NAME.

// serveSessionPage answers the paths of one session's page; program and
// session come from the URL and name a session only if the daemon's
// verified listing has it.
func (d *Daemon) serveSessionPage(w http1.ResponseWriter, r *http1.Request, program, session, sub string) {
	socket := ""
	if list, err := d.Sessions([]string{program}); err == nil {
		for _, s := range list {
			if s.Program == program && s.Name == session {
				socket = s.Socket
			}
		}
	}
	if socket == "" {
		notFound(w)
		return
	}
	d.serveTerminal(w, r, program, session, socket, sub)
}

// serveProgramTerminal answers the paths of a pty program's terminal in
// the page, /program/NAME and below, as serveSessionPage does a session's.
func (d *Daemon) serveProgramTerminal(w http1.ResponseWriter, r *http1.Request, name, sub string) {
	socket, err := d.terminalSocket(name)
	if err != nil || socket == "" {
		notFound(w)
		return
	}
	d.serveTerminal(w, r, name, "terminal", socket, sub)
}

// serveTerminal routes the page of the master on socket.
func (d *Daemon) serveTerminal(w http1.ResponseWriter, r *http1.Request, program, session, socket, sub string) {
	switch sub {
	case "":
		d.sessionIndex(w, r, program, session)
	case "events":
		d.sessionEvents(w, r, socket)
	case "keys":
		d.sessionKeys(w, r, socket)
	case "resize":
		d.sessionResize(w, r, socket)
	default:
		notFound(w)
	}
}

func (d *Daemon) sessionIndex(w http1.ResponseWriter, r *http1.Request, program, session string) {
	if r.Method != "GET" && r.Method != "HEAD" {
		methodNotAllowed(w, "GET")
		return
	}
	d.writePage(w, r, "term.html", map[string]string{
		"Token": d.webToken, "Program": program, "Session": session, "Identification": "keeper " + Version})
}

// webTerms are the pages attached now, by the id each page got.
type webTerms struct {
	mu   sync.Mutex
	byID map[string]*webterm.Term
}

func (ts *webTerms) add(t *webterm.Term) string {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.byID == nil {
		ts.byID = map[string]*webterm.Term{}
	}
	ts.byID[id] = t
	return id
}

func (ts *webTerms) get(id string) *webterm.Term {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.byID[id]
}

func (ts *webTerms) remove(id string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.byID, id)
}

// sessionEvents attaches to the master and streams frames until the page
// goes away or the session ends.
func (d *Daemon) sessionEvents(w http1.ResponseWriter, r *http1.Request, socket string) {
	if r.Method != "GET" {
		methodNotAllowed(w, "GET")
		return
	}
	if why := crossSite(r); why != "" {
		d.refuseWeb(w, r, why)
		return
	}
	query := url.Values{}
	if u, err := url.ParseRequestURI(r.Target); err == nil {
		query = u.Query()
	}
	t, err := webterm.Attach(socket, webterm.PageSize(query))
	if err != nil {
		w.WriteHeader(502)
		w.Write([]byte("502 session unreachable: " + err.Error() + "\n"))
		return
	}
	defer t.Close()
	id := d.webAttached.add(t)
	defer d.webAttached.remove(id)

	webHeaders(w, "text/event-stream")
	w.WriteHeader(200)
	hello, _ := json.Marshal(map[string]string{"id": id})
	if !webterm.SendEvent(w, "hello", hello) {
		return
	}
	ctx, cancel := d.streamContext(r.Context())
	defer cancel()
	t.Stream(ctx, w)
}

// sessionKeys types the body's bytes into the session's program, over
// the connection of the page named by ?id= (the one its hello gave), so
// keys arrive in the order the page sent them.
func (d *Daemon) sessionKeys(w http1.ResponseWriter, r *http1.Request, socket string) {
	if r.Method != "POST" {
		methodNotAllowed(w, "POST")
		return
	}
	if !d.checkWebRequest(w, r, r.Header.Get("X-Keeper-Token")) {
		return
	}
	if len(r.Body) > webterm.MaxKeys {
		w.WriteHeader(413)
		return
	}
	var id string
	if u, err := url.ParseRequestURI(r.Target); err == nil {
		id = u.Query().Get("id")
	}
	t := d.pageTerm(w, socket, id)
	if t == nil {
		return
	}
	if err := t.Keys(r.Body); err != nil {
		w.WriteHeader(502)
		w.Write([]byte("502 " + err.Error() + "\n"))
		return
	}
	w.WriteHeader(204)
}

// sessionResize gives the page's client of the master a new window size.
func (d *Daemon) sessionResize(w http1.ResponseWriter, r *http1.Request, socket string) {
	if r.Method != "POST" {
		methodNotAllowed(w, "POST")
		return
	}
	form, _ := url.ParseQuery(string(r.Body))
	if !d.checkWebRequest(w, r, r.Header.Get("X-Keeper-Token")) {
		return
	}
	t := d.pageTerm(w, socket, form.Get("id"))
	if t == nil {
		return
	}
	if err := t.Resize(webterm.PageSize(form)); err != nil {
		w.WriteHeader(502)
		w.Write([]byte("502 " + err.Error() + "\n"))
		return
	}
	w.WriteHeader(204)
}

// pageTerm returns the attached page id if it is attached to socket, or
// answers 404 and returns nil.
func (d *Daemon) pageTerm(w http1.ResponseWriter, socket, id string) *webterm.Term {
	t := d.webAttached.get(id)
	if t == nil || t.Socket() != socket {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(404)
		w.Write([]byte("404 this page is not attached to the session: reload it\n"))
		return nil
	}
	return t
}
