package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"keeper/internal/peer"
)

// browser starts Debian's chromium, headless, for one test, sending
// Basic credentials user:pass with every request, and returns a context
// whose actions run in one tab. Chromium and its children are gone when
// the test ends.
func browser(t *testing.T, user, pass string, width, height int) context.Context {
	t.Helper()
	path := peer.Need(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root, as CI runs
		chromedp.UserDataDir(filepath.Join(testDir(t), "chromium")),
		chromedp.WindowSize(width, height),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for chromium to exit
	})
	sendAuth(t, ctx, user, pass)
	return ctx
}

// newTab opens another tab of ctx's browser, with the same credentials;
// closing it is calling the returned function.
func newTab(t *testing.T, ctx context.Context, user, pass string) (context.Context, context.CancelFunc) {
	t.Helper()
	tab, closeTab := chromedp.NewContext(ctx)
	sendAuth(t, tab, user, pass)
	return tab, closeTab
}

// sendAuth makes the tab send Basic credentials with every request.
func sendAuth(t *testing.T, ctx context.Context, user, pass string) {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
			return err
		}),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
				network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Basic " + auth}})
			return err
		}))
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
}

// inTab runs actions in the tab, failing the test after timeout.
func inTab(t *testing.T, ctx context.Context, timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("in the browser, %s: %v", what, err)
	}
}

// evaluate runs a JavaScript expression in the tab and returns its value.
func evaluate[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		t.Fatalf("in the browser, %s: %v", expression, err)
	}
	return v
}

// waitText waits until the element at sel (a query selector) contains text.
func waitText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(() => { const e = document.querySelector(`+jsString(sel)+`);
		return e !== null && e.textContent.includes(`+jsString(text)+`); })()`, chromedp.WithPollingInterval(20*time.Millisecond))
}

// jsString quotes s for JavaScript source.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves the tab as bin/screenshots/name.png in the repository,
// for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "bin", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
