//go:build external

package stacks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The flame graph as a person uses it, in headless Chromium (Debian's
// package, driven through the DevTools protocol with chromedp): the mouse
// over a frame shows its name and share, a click zooms into it (its frame
// spans the graph, frames beside it go), "Reset zoom" comes back, and the
// search (a regular expression typed into its prompt) colours the matches
// and shows their share. Each effect is read back from the page.
func TestFlameGraphInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium (scripts/deps.sh installs it): %v", err)
	}
	svg := filepath.Join(t.TempDir(), "cpu.svg")
	f, err := os.Create(svg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sample().WriteSVG(f, "CPU: pod web", false); err != nil {
		t.Fatal(err)
	}
	f.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.WindowSize(1400, 900)) // the whole graph on screen, for the mouse
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string) []float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	// frame is the frame titled name as the page shows it: the centre of
	// its rectangle on screen and its width (-1 when hidden).
	frame := func(name string) (x, y, w float64) {
		t.Helper()
		v := eval(fmt.Sprintf(`(() => { for (const g of document.querySelectorAll('.f')) { if (g.querySelector('title').textContent.startsWith(%q)) {
			const r = g.querySelector('rect').getBoundingClientRect();
			return [r.x + r.width / 2, r.y + r.height / 2, g.classList.contains('out') ? -1 : +g.querySelector('rect').getAttribute('width')]; } } return []; })()`, name+" ("))
		if len(v) != 3 {
			t.Fatalf("no frame %s on the page", name)
		}
		return v[0], v[1], v[2]
	}
	// The search asks for its term with prompt(): answer as a person would.
	answer := `main\.(hot|warm)`
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true, PromptText: answer})
		}
	}()

	do("open the flame graph", chromedp.Navigate("file://"+svg), chromedp.WaitVisible(chromedp.CSS("#frames")))
	if _, _, w := frame("main.hot"); w < 839 || w > 841 {
		t.Fatalf("main.hot is %.1f wide, want 70%% of 1200", w)
	}

	// Hover: the details line names the frame under the mouse.
	x, y, _ := frame("main.warm")
	do("move the mouse over main.warm", chromedp.MouseEvent("mouseMoved", x, y))
	if got := text("#details"); got != "main.warm (3 samples, 30.00%)" {
		t.Errorf("hovering main.warm: details %q", got)
	}

	// Click: zoomed into main.warm, it spans the graph; main.hot is gone.
	do("click main.warm", chromedp.MouseClickXY(x, y))
	_, _, warm := frame("main.warm")
	_, _, hot := frame("main.hot")
	if warm != 1200 || hot != -1 {
		t.Errorf("after a click on main.warm: its width %.1f (want 1200), main.hot's %.1f (want hidden)", warm, hot)
	}
	if v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#reset"), "visibility")); err != nil || v.Value != "visible" {
		t.Errorf("after zooming, Reset zoom is %q (%v)", v.Value, err)
	}

	// Reset: back to the whole graph.
	do("click Reset zoom", chromedp.Click(chromedp.CSS("#reset")))
	_, _, warm = frame("main.warm")
	_, _, hot = frame("main.hot")
	if warm < 359 || warm > 361 || hot < 839 || hot > 841 {
		t.Errorf("after Reset zoom: main.warm %.1f wide (want 360), main.hot %.1f (want 840)", warm, hot)
	}

	// Search: the prompt's answer colours both and reports their share.
	do("click Search", chromedp.Click(chromedp.CSS("#search")))
	deadline := time.Now().Add(10 * time.Second)
	for text("#matched") == "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := text("#matched"); got != "Matched: 100.0%" {
		t.Errorf("searching %s: %q, want Matched: 100.0%%", answer, got)
	}
	if n := eval(`[document.querySelectorAll('.f.match').length]`); len(n) != 1 || n[0] != 2 {
		t.Errorf("searching %s: %v frames coloured, want main.hot and main.warm", answer, n)
	}
}
