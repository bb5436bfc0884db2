package main

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback TCP port nothing listens on at the time of asking.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrapeValue fetches url and returns the value of the sample line starting name, or
// -1 when the server is not up yet or has no such line.
func scrapeValue(url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestBothEndsServeMetrics runs hrvs recv --http and hrvs send --metrics on loopback and
// scrapes /metrics from both while the stream runs.
func TestBothEndsServeMetrics(t *testing.T) {
	listen, web, mtx := freePort(t), freePort(t), freePort(t)
	// Both run for a bounded time; the scrapes happen while they do.
	done := make(chan int, 2)
	go func() {
		code, _, stderr := runCmd("recv", "--listen", listen, "--http", web, "--sink", "null", "--duration", "14s")
		if code != 0 {
			t.Errorf("recv: exit %d: %s", code, stderr)
		}
		done <- code
	}()
	go func() {
		code, _, stderr := runCmd("send", "--to", listen, "--metrics", mtx, "--size", "320x192", "--fps", "30", "--duration", "12s")
		if code != 0 {
			t.Errorf("send: exit %d: %s", code, stderr)
		}
		done <- code
	}()
	want := map[string]string{
		"http://" + web + "/metrics": "hrvs_receiver_frames_received_total",
		"http://" + mtx + "/metrics": "hrvs_sender_frames_sent_total",
	}
	for url, name := range want {
		deadline := time.Now().Add(12 * time.Second)
		for scrapeValue(url, name) < 5 {
			if time.Now().After(deadline) {
				t.Fatalf("%s never reported %s of 5 or more", url, name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	<-done
	<-done
}

func TestMetricsFlagMistakesExitTwo(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a metrics address without a port", []string{"send", "--duration", "2s", "--to", "127.0.0.1:9", "--metrics", "localhost"}, `--metrics "localhost": want [HOST]:PORT`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q: want 2 and %q", code, stderr, c.want)
			}
		})
	}
}
