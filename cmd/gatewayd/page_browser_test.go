package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// The status page in a real browser: Debian's chromium, headless, driven
// over the DevTools protocol by chromedp. One browser serves every test of
// this binary (browser); each test opens its own tab.

var shared struct {
	once   sync.Once
	ctx    context.Context // the browser's; a tab's context derives from it
	cancel context.CancelFunc
	err    error
}

// browser returns a new tab of the shared browser, closed when the test
// ends, or skips the test when chromium is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium); the status page is not tested in a browser")
	}
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "gatewayd-chromium")
		if err != nil {
			shared.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.UserDataDir(dir), // a fresh profile
			chromedp.Headless,
			chromedp.NoSandbox, // CI runs as root
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.WindowSize(1280, 800),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		shared.ctx = bctx
		shared.cancel = func() { bcancel(); acancel(); os.RemoveAll(dir) }
		shared.err = chromedp.Do(bctx) // starts the browser, with no deadline
	})
	if shared.err != nil {
		t.Fatalf("starting chromium: %v", shared.err)
	}
	tab, cancel := chromedp.NewContext(shared.ctx)
	t.Cleanup(cancel)
	return tab
}

// closeBrowser ends the shared browser, if one was started; TestMain calls
// it after the tests.
func closeBrowser() {
	if shared.cancel != nil {
		shared.cancel()
	}
}

// artifactDir is where tests leave files for a human: $GATEWAYD_ARTIFACTS
// if set (CI keeps it), else the test's temp dir.
func artifactDir(t *testing.T) string {
	if dir := os.Getenv("GATEWAYD_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestStatusPageInBrowser opens the status page of a real gatewayd (bridge
// on, a real mosquitto) with two boards, and checks what a user sees: both
// boards, a new line without a reload within a second, a board that left
// shown as gone, the queue depth rising while mosquitto is down and
// falling when it is back, and a line of HTML shown as text.
func TestStatusPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser under -short (qemu) is too slow to be worth it")
	}
	tab := browser(t)
	m := gatewaytest.StartMosquitto(t, true)
	metricsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(gatewaytest.FreePort(t)))
	yaml := bridgeYAML(t, m.URL(), "pi-page", filepath.Join(t.TempDir(), "q"), "") + "metrics:\n  listen: \"" + metricsAddr + "\"\n"
	p := start2(t, yaml)
	addr := p.addr()
	p.waitLog(`bridge: connected to broker`)

	alpha := dialBoard(t, addr, "alpha fw=1.4")
	beta := dialBoard(t, addr, "beta.2")
	alpha.send("temp=21.5 hum=40")
	beta.send("hello from beta")

	var alerts []string
	var mu sync.Mutex
	dialogs := chromedp.Events(tab, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			alerts = append(alerts, ev.Message)
			mu.Unlock()
			chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// within polls a JavaScript predicate on the page for at most limit.
	within := func(limit time.Duration, what, predicate string) {
		t.Helper()
		do(what, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(limit)))
	}
	cell := func(board, col string) string {
		return fmt.Sprintf(`document.querySelector('tr[data-board=%q] td.%s')`, board, col)
	}

	do("open the page", chromedp.Navigate("http://"+metricsAddr+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-board="alpha"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-board="beta.2"]`)))
	within(10*time.Second, "both boards with their last lines",
		cell("alpha", "line")+`.textContent === "temp=21.5 hum=40" && `+cell("beta.2", "line")+`.textContent === "hello from beta"`)
	within(10*time.Second, "the gateway and broker", `document.getElementById("gw-id").textContent === "pi-page" && `+
		`document.getElementById("broker-state").textContent.startsWith("connected") && document.getElementById("live").textContent === "live"`)

	// A new line shows within a second, and the page was not reloaded.
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	alpha.send("temp=22.0 hum=41")
	within(time.Second, "the new line within a second", cell("alpha", "line")+`.textContent === "temp=22.0 hum=41"`)
	within(time.Second, "the same page", `window.notReloaded === true`)

	// A line of HTML is text.
	beta.send("<script>alert(1)</script><b>bold</b>")
	within(5*time.Second, "the HTML line as text",
		cell("beta.2", "line")+`.textContent === "<script>alert(1)</script><b>bold</b>" && `+cell("beta.2", "line")+`.childElementCount === 0`)
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("script:not([src]), b").length`))
	if err != nil || n != 0 {
		t.Errorf("elements made from the board's line: %d (%v)", n, err)
	}

	// Queue depth: rises while mosquitto is down, falls when it is back.
	within(10*time.Second, "an empty queue", `document.getElementById("queue-lines").textContent === "0"`)
	m.Stop()
	within(30*time.Second, "the broker shown unreachable", `document.getElementById("broker-state").textContent.startsWith("unreachable")`)
	for i := range 5 {
		alpha.send(fmt.Sprintf("queued=%d", i))
	}
	within(10*time.Second, "the queue depth rising", `Number(document.getElementById("queue-lines").textContent) >= 5`)

	// Beta leaves.
	beta.c.Close()
	within(10*time.Second, "beta shown as gone",
		`document.querySelector('tr[data-board="beta.2"]').classList.contains("gone") && `+cell("beta.2", "seen")+`.textContent === "gone"`)

	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactDir(t), "status-page.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))

	m.Start()
	within(30*time.Second, "the queue depth falling to 0", `document.getElementById("queue-lines").textContent === "0" && `+
		`document.getElementById("broker-state").textContent.startsWith("connected")`)

	mu.Lock()
	defer mu.Unlock()
	if len(alerts) > 0 {
		t.Errorf("the page opened dialogs: %q", alerts)
	}
}
