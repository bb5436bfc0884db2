package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/coder/websocket"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// browser is a headless Chromium driven over the DevTools protocol, so a test can wait
// for what a page shows, read its figures, throttle its CPU and take screenshots.
type browser struct {
	base string // http://127.0.0.1:PORT of the DevTools endpoint
}

// launchChromium starts headless Chromium in its own process group, which the test's
// cleanup kills.
func launchChromium(t *testing.T) *browser {
	t.Helper()
	chromium := testpic.NeedTool(t, "chromium")
	dir := t.TempDir()
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-background-timer-throttling", "--disable-renderer-backgrounding",
		"--disable-backgrounding-occluded-windows", "--force-device-scale-factor=1", "--window-size=1000,800",
		"--remote-debugging-port=0", "--user-data-dir="+filepath.Join(dir, "profile"), "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	// With port 0 Chromium picks a port and writes it to DevToolsActivePort.
	var port string
	testrig.Eventually(t, testrig.Patience, func() error {
		b, err := os.ReadFile(filepath.Join(dir, "profile", "DevToolsActivePort"))
		if err != nil {
			out, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("chromium has not opened its DevTools port: %v\n%s", err, out)
		}
		port, _, _ = strings.Cut(string(b), "\n")
		if port == "" {
			return errors.New("DevToolsActivePort is empty")
		}
		return nil
	})
	return &browser{base: "http://127.0.0.1:" + port}
}

// open opens a new tab at u and connects to it.
func (b *browser) open(t *testing.T, u string) *tab {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, b.base+"/json/new?"+url.QueryEscape(u), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var target struct{ WebSocketDebuggerURL string }
	if err := json.NewDecoder(resp.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("new tab: %d %v", resp.StatusCode, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testrig.Patience)
	defer cancel()
	c, _, err := websocket.Dial(ctx, target.WebSocketDebuggerURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(256 << 20) // screenshots
	tb := &tab{c: c, pending: map[int64]chan reply{}, done: make(chan struct{})}
	go tb.read()
	t.Cleanup(tb.close)
	return tb
}

// tab is one page's DevTools connection: calls wait for their replies, events are
// ignored.
type tab struct {
	c       *websocket.Conn
	mu      sync.Mutex
	id      int64
	pending map[int64]chan reply
	done    chan struct{} // closed when read returns
}

type reply struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (tb *tab) read() {
	defer close(tb.done)
	for {
		_, m, err := tb.c.Read(context.Background())
		if err != nil {
			return
		}
		var r reply
		if json.Unmarshal(m, &r) != nil || r.ID == 0 {
			continue // an event
		}
		tb.mu.Lock()
		ch := tb.pending[r.ID]
		delete(tb.pending, r.ID)
		tb.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

func (tb *tab) close() {
	tb.c.CloseNow()
	<-tb.done
}

// call sends a DevTools command and decodes its result into result (if not nil).
func (tb *tab) call(ctx context.Context, method string, params, result any) error {
	tb.mu.Lock()
	tb.id++
	id := tb.id
	ch := make(chan reply, 1)
	tb.pending[id] = ch
	tb.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	if err := tb.c.Write(ctx, websocket.MessageText, msg); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-tb.done:
		return fmt.Errorf("%s: DevTools connection closed", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value into v.
func (tb *tab) eval(ctx context.Context, expr string, v any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := tb.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	if len(r.Result.Value) == 0 {
		return fmt.Errorf("%s: no value", expr)
	}
	return json.Unmarshal(r.Result.Value, v)
}

// screenshot captures rectangle r of the page, one image pixel per CSS pixel.
func (tb *tab) screenshot(ctx context.Context, r image.Rectangle) (image.Image, error) {
	var shot struct{ Data string }
	clip := map[string]any{"x": r.Min.X, "y": r.Min.Y, "width": r.Dx(), "height": r.Dy(), "scale": 1}
	if err := tb.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "clip": clip}, &shot); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return nil, err
	}
	return png.Decode(bytes.NewReader(b))
}

// pageFigures are the tile page's own figures (window.hrvs in ws.html).
type pageFigures struct {
	Connected bool    `json:"connected"`
	Frames    int     `json:"frames"`
	Tiles     int     `json:"tiles"`
	Bytes     int64   `json:"bytes"`
	Skipped   int     `json:"skipped"`
	Concealed int     `json:"concealed"`
	Errors    int     `json:"errors"`
	Seq       int64   `json:"seq"`
	LatencyMs float64 `json:"latencyMs"`
	FPS       int     `json:"fps"`
}

func (tb *tab) figures(ctx context.Context) (pageFigures, error) {
	var f pageFigures
	err := tb.eval(ctx, `(({drawn, offsetUs, ...f}) => ({...f, latencyMs: isNaN(f.latencyMs) ? -1 : f.latencyMs}))(window.hrvs || {})`, &f)
	return f, err
}
