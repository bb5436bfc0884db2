package web

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
)

// neverReads opens /stream.mjpg on a raw connection and never reads from it.
func neverReads(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A tiny receive buffer, so the server's writes stall after a few pictures.
	c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
	return c
}

func TestAStalledViewerMakesRoomForANewOne(t *testing.T) {
	s, url := start(t, Options{MaxClients: 2, Quality: 95})
	stop := feeder(s, 1280, 720, 30)
	defer stop()
	neverReads(t, s.Addr().String())
	neverReads(t, s.Addr().String())
	testrig.Eventually(t, testrig.Patience, func() error {
		if v := s.Stats().Viewers; v != 2 {
			return fmt.Errorf("%d viewers attached, want the two stalled ones", v)
		}
		return nil
	})
	// Once their buffers are full and stalledAfter has passed, a newcomer gets in: on a
	// busy machine encoding is slow and filling the buffers takes a while.
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(url + "/stream.mjpg")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			buf := make([]byte, 1024)
			if _, err := io.ReadAtLeast(resp.Body, buf, 100); err != nil {
				t.Fatalf("the admitted viewer got no picture: %v", err)
			}
			resp.Body.Close()
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("a reading viewer was never admitted past two stalled ones (stats %+v)", s.Stats())
		}
		time.Sleep(100 * time.Millisecond) // poll interval while the stalled ones age
	}
	if st := s.Stats(); st.Dropped == 0 {
		t.Fatalf("no stalled viewer counted as dropped: %+v", st)
	}
}

func TestATokenGuardsEveryEndpoint(t *testing.T) {
	s, url := start(t, Options{Token: "s3cret"})
	stop := feeder(s, 64, 64, 30)
	defer stop()
	for _, path := range []string{"/", "/mjpeg", "/ws", "/stats.json", "/snapshot.jpg", "/stream.mjpg"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d, want 401", path, resp.StatusCode)
		}
		resp, err = http.Get(url + path + "?token=wrong")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(url + "/?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == tokenCookie {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusOK || cookie == nil {
		t.Fatalf("the page with the token: %d, cookie %v", resp.StatusCode, cookie)
	}
	req, _ := http.NewRequest("GET", url+"/stats.json", nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats with the page's cookie: %d", resp.StatusCode)
	}
	if s.Stats().Unauthorized != 12 {
		t.Fatalf("%d requests counted unauthorized, want 12", s.Stats().Unauthorized)
	}
}
