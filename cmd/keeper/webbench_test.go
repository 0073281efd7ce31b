package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"keeper/proctree"
)

// TestBenchWebAttach is make bench-web, not a test (it runs only with
// KEEPER_BENCH_WEB=1): in chromium, the time from a keystroke in the page
// to its echo painted, measured in the page (performance.now() at the
// keydown and at the mutation of the screen that shows it), and the
// daemon's CPU while 10 pages sit on idle sessions.
func TestBenchWebAttach(t *testing.T) {
	if os.Getenv("KEEPER_BENCH_WEB") != "1" {
		t.Skip("a benchmark: make bench-web runs it")
	}
	const pages = 10
	port := freePort(t)
	var conf strings.Builder
	fmt.Fprintf(&conf, "[inet_http_server]\nport=127.0.0.1:%d\nusername=u\npassword=p\nweb=true\nweb_attach=true\n", port)
	fmt.Fprintf(&conf, "\n[program:term]\ncommand=/bin/sh -c 'for i in $(seq %d); do %s dtach -n @DIR@/s$i.sock /bin/cat; done; exec @DIR@/sleepy 1000'\nstartsecs=0\n", pages, keeperBin)
	k := newKeeperd(t, conf.String())
	k.start()
	k.waitState("term", 10*time.Second, "RUNNING")
	var listed string
	defer func() {
		if t.Failed() {
			t.Logf("keeper sessions said last:\n%s\nthe log:\n%s", listed, k.log())
		}
	}()
	waitFor(t, "the sessions", 30*time.Second, func() bool {
		listed, _ = runKeeper(t, k.dir, keeperBin, "-c", k.conf, "sessions", "--json")
		var list []sessionJSON
		return json.Unmarshal([]byte(listed), &list) == nil && len(list) == pages
	})
	base := fmt.Sprintf("http://127.0.0.1:%d/session/term/", port)
	ctx := browser(t, "u", "p", 900, 600)

	// Echo: cat on a cooked tty, whose echo the line discipline makes.
	tab, closeTab := newTab(t, ctx, "u", "p")
	inTab(t, tab, 20*time.Second, "open a session", chromedp.Navigate(base+"s1.sock"), waitText("#term-status", "attached"))
	evaluate[bool](t, tab, `(() => {
		window.keyAt = 0; window.lat = [];
		const screen = document.getElementById("screen");
		screen.addEventListener("keydown", () => { window.keyAt = performance.now(); }, true);
		new MutationObserver(() => {
			if (window.keyAt) { window.lat.push(performance.now() - window.keyAt); window.keyAt = 0; }
		}).observe(document.getElementById("rows"), { childList: true, subtree: true, characterData: true });
		return true; })()`)
	const trips = 200
	for i := range trips {
		inTab(t, tab, 10*time.Second, "a keystroke and its echo",
			chromedp.KeyEvent(string(rune('a'+i%26))),
			chromedp.Poll[chromedp.Void](`window.lat.length >= `+strconv.Itoa(i+1), chromedp.WithPollingInterval(time.Millisecond)))
		if (i+1)%60 == 0 {
			inTab(t, tab, 10*time.Second, "a new line", chromedp.KeyEvent("\r"),
				chromedp.Poll[chromedp.Void](`window.lat.length >= `+strconv.Itoa(i+2), chromedp.WithPollingInterval(time.Millisecond)))
			evaluate[bool](t, tab, `(window.lat.pop(), true)`)
		}
	}
	lat := evaluate[[]float64](t, tab, `window.lat`)
	slices.Sort(lat)
	fmt.Printf("keystroke to echo painted in the page (%d keys): p50 %.1f ms, p99 %.1f ms\n",
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100])
	closeTab()

	// Idle: ten pages open on ten quiet sessions, in two browsers: a
	// browser holds at most six HTTP/1.1 connections to one server, and
	// each page holds one for its stream.
	second := browser(t, "u", "p", 900, 600)
	for i := 1; i <= pages; i++ {
		b := ctx
		if i > pages/2 {
			b = second
		}
		tab, closeTab := newTab(t, b, "u", "p")
		defer closeTab()
		inTab(t, tab, 20*time.Second, "open a page", chromedp.Navigate(base+"s"+strconv.Itoa(i)+".sock"), waitText("#term-status", "attached"))
	}
	pid := k.cmd.Process.Pid
	cpu := func() float64 {
		p, err := proctree.Stat(pid)
		if err != nil {
			t.Fatal(err)
		}
		return float64(p.UTime+p.STime) / float64(proctree.ClockTicks)
	}
	const idle = 10 * time.Second
	before := cpu()
	ctxIdle, cancel := context.WithTimeout(context.Background(), idle)
	<-ctxIdle.Done()
	cancel()
	fmt.Printf("daemon CPU with %d pages open on idle sessions, over %v: %.2f %%\n", pages, idle, 100*(cpu()-before)/idle.Seconds())
}
