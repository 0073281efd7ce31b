package supervise

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"keeper/supervise/http1"
	"keeper/supervise/logfile"
)

// recorder is an http1.ResponseWriter that keeps the answer.
type recorder struct {
	status int
	header http1.Header
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http1.Header{}} }

func (r *recorder) Header() http1.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(200)
	return r.body.Write(p)
}

func (r *recorder) Flush() error { return nil }

// webRequest is a request to the page on keeper.example:9001 with the
// given extra headers.
func webRequest(method string, header map[string]string) *http1.Request {
	h := http1.Header{}
	h.Set("Host", "keeper.example:9001")
	for k, v := range header {
		h.Set(k, v)
	}
	return &http1.Request{Method: method, Path: "/action", Target: "/action", Header: h}
}

// TestCrossSite: a request naming another site in Origin, or without an
// Origin in Referer, is refused; one naming the page's own host, or
// nothing (a non-browser client), passes.
func TestCrossSite(t *testing.T) {
	same := "http://keeper.example:9001"
	for _, tc := range []struct {
		name   string
		header map[string]string
		refuse string // part of the reason; "" when it passes
	}{
		{"a non-browser client", nil, ""},
		{"the page itself", map[string]string{"Origin": same}, ""},
		{"the page, Referer only", map[string]string{"Referer": same + "/"}, ""},
		{"the page over https", map[string]string{"Origin": "https://keeper.example:9001"}, ""},
		{"host in another case", map[string]string{"Origin": "http://KEEPER.example:9001"}, ""},
		{"another site", map[string]string{"Origin": "http://evil.example"}, "Origin"},
		{"another port", map[string]string{"Origin": "http://keeper.example:9002"}, "Origin"},
		{"a subdomain", map[string]string{"Origin": "http://a.keeper.example:9001"}, "Origin"},
		{"an opaque origin", map[string]string{"Origin": "null"}, "Origin"},
		{"a file", map[string]string{"Origin": "file://keeper.example:9001"}, "Origin"},
		{"another site by Referer", map[string]string{"Referer": "http://evil.example/x"}, "Referer"},
		{"Origin wins over Referer", map[string]string{"Origin": "http://evil.example", "Referer": same + "/"}, "Origin"},
		{"a host in the path", map[string]string{"Origin": "http://evil.example/keeper.example:9001"}, "Origin"},
		{"userinfo", map[string]string{"Origin": "http://keeper.example:9001@evil.example"}, "Origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := crossSite(webRequest("POST", tc.header))
			if tc.refuse == "" && got != "" {
				t.Fatalf("refused: %s", got)
			}
			if tc.refuse != "" && !strings.Contains(got, tc.refuse) {
				t.Fatalf("refusal %q, want one naming %s", got, tc.refuse)
			}
		})
	}
}

// TestCheckWebRequest: an action needs both the page's own site and its
// token; a refusal is a 403 that says why, and is logged.
func TestCheckWebRequest(t *testing.T) {
	var logs bytes.Buffer
	token := newWebToken()
	d := &Daemon{log: logfile.NewLogger(nil, &logs, logfile.LevelInfo), webToken: token}
	same := map[string]string{"Origin": "http://keeper.example:9001"}
	other := map[string]string{"Origin": "http://evil.example"}
	for _, tc := range []struct {
		name   string
		header map[string]string
		token  string
		why    string // part of the 403's body; "" when let through
	}{
		{"the page with its token", same, token, ""},
		{"a non-browser client with the token", nil, token, ""},
		{"no token", same, "", "token"},
		{"a wrong token", same, newWebToken(), "token"},
		{"a prefix of the token", same, token[:32], "token"},
		{"the token and a byte more", same, token + "0", "token"},
		{"another site with the token", other, token, "another site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRecorder()
			ok := d.checkWebRequest(w, webRequest("POST", tc.header), tc.token)
			if ok != (tc.why == "") {
				t.Fatalf("let through: %v, want %v (%d %s)", ok, tc.why == "", w.status, w.body.String())
			}
			if !ok && (w.status != 403 || !strings.Contains(w.body.String(), tc.why)) {
				t.Fatalf("refusal %d %q, want 403 saying %q", w.status, w.body.String(), tc.why)
			}
		})
	}
	if !strings.Contains(logs.String(), "refused POST /action") {
		t.Errorf("refusals not logged:\n%s", logs.String())
	}
}

// TestWebTemplateEscapes renders hostile names, descriptions, session
// names and a message: all come out as text, never as markup, and the
// page has no inline script.
func TestWebTemplateEscapes(t *testing.T) {
	hostile := `<img src=x onerror=alert(1)>`
	st := webStatus{Identification: "keeper", Attach: true, Token: "tok", Message: `<script>alert(2)</script>`,
		Programs: []webProgram{{Namespec: hostile, Group: hostile, Name: hostile, State: "RUNNING",
			Description: `"><svg onload=alert(3)>`, Running: true,
			Sessions: []webSession{{Name: `'><script>alert(4)</script>`, State: "detached"}}}}}
	var b strings.Builder
	if err := webTemplate.Execute(&b, st); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<img", "<svg", "<script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q as markup:\n%s", bad, page)
		}
	}
	for _, want := range []string{"&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(2)&lt;/script&gt;", "&lt;svg onload=alert(3)&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Count(page, "<script") != strings.Count(page, `<script src="/static/`) {
		t.Errorf("the page has a script that is not a /static file:\n%s", page)
	}
}

// TestStatusEvent: the status is one data line whatever its strings hold,
// so a description or session name cannot end the event or forge another.
func TestStatusEvent(t *testing.T) {
	st := webStatus{Programs: []webProgram{{Namespec: "a\nb", Description: "x\r\n\ndata: forged\n\nevent: y\u2028z\u2029",
		Sessions: []webSession{{Name: "s\rt"}}}}}
	ev := string(statusEvent(st))
	if !strings.HasPrefix(ev, "data: {") || !strings.HasSuffix(ev, "}\n\n") {
		t.Fatalf("not one data event: %q", ev)
	}
	body := strings.TrimSuffix(strings.TrimPrefix(ev, "data: "), "\n\n")
	if strings.ContainsAny(body, "\r\n\u2028\u2029") {
		t.Fatalf("a line break inside the event's data: %q", ev)
	}
	if !strings.Contains(body, `data: forged`) {
		t.Fatalf("the description is lost: %q", ev)
	}
}

// TestActionMessage: the outcome in /?message= is said only when the
// page's own site asked for it, not for a link from another site or a
// typed address.
func TestActionMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"after the page's own form", map[string]string{"Referer": "http://keeper.example:9001/"}, "sleeper: stopped"},
		{"a link from another site", map[string]string{"Referer": "http://evil.example/"}, ""},
		{"a typed address", nil, ""},
		{"another Origin", map[string]string{"Origin": "http://evil.example", "Referer": "http://keeper.example:9001/"}, ""},
	} {
		r := webRequest("GET", tc.header)
		r.Target, r.Path = "/?message=sleeper%3A+stopped", "/"
		if got := actionMessage(r); got != tc.want {
			t.Errorf("%s: message %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestWebShared: the pages share one reading of the status per state
// change and webRefresh slice; a new slice or a change reads again.
func TestWebShared(t *testing.T) {
	var s webShared
	reads := 0
	read := func() webStatus { reads++; return webStatus{Identification: fmt.Sprint(reads)} }
	gen1, gen2 := make(chan struct{}), make(chan struct{})
	for i, tc := range []struct {
		changed chan struct{}
		slice   int64
		want    string // the reading the page gets
	}{
		{gen1, 10, "1"}, // the first page reads
		{gen1, 10, "1"}, // the others share it
		{gen1, 10, "1"},
		{gen1, 11, "2"}, // the next refresh reads again, once
		{gen1, 11, "2"},
		{gen2, 11, "3"}, // a state change reads again, once
		{gen2, 11, "3"},
		{gen2, 12, "4"},
	} {
		if got := s.get(tc.changed, tc.slice, read).Identification; got != tc.want {
			t.Errorf("ask %d: reading %s, want %s", i, got, tc.want)
		}
	}
}

// TestUntilRefresh: every page's refresh falls on the same boundaries.
func TestUntilRefresh(t *testing.T) {
	base := time.Unix(1700000000, 0) // a multiple of webRefresh
	for _, tc := range []struct {
		now  time.Duration
		want time.Duration
	}{
		{0, webRefresh},
		{time.Millisecond, webRefresh - time.Millisecond},
		{webRefresh - time.Nanosecond, time.Nanosecond},
		{3*webRefresh + 2*time.Second, webRefresh - 2*time.Second},
	} {
		if got := untilRefresh(base.Add(tc.now)); got != tc.want {
			t.Errorf("untilRefresh(base+%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
}
