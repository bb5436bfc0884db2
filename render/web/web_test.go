package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

func start(t *testing.T, opt Options) (*Server, string) {
	t.Helper()
	s, err := New("127.0.0.1:0", opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, "http://" + s.Addr().String()
}

// feeder shows numbered frames at about fps until stopped.
func feeder(s *Server, w, h int, fps float64) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pics := [2]*image.YCbCr{testpic.Picture(w, h, image.YCbCrSubsampleRatio420, 0), testpic.Picture(w, h, image.YCbCrSubsampleRatio420, 1)}
		tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
		defer tick.Stop()
		for seq := uint32(0); ; seq++ {
			f := receiver.NewFrame(pics[seq%2], seq)
			f.Sender = "192.0.2.9:5000"
			s.Show(f)
			f.Release()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

func TestStreamIsMultipartJPEGOfTheNewestFrames(t *testing.T) {
	s, url := start(t, Options{})
	defer feeder(s, 320, 240, 30)()
	resp, err := http.Get(url + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	last := -1
	for i := 0; i < 5; i++ {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if ct := part.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("part Content-Type %q", ct)
		}
		seq, err := strconv.Atoi(part.Header.Get("X-Frame-Seq"))
		if err != nil || seq <= last {
			t.Fatalf("part %d has frame %q after %d", i, part.Header.Get("X-Frame-Seq"), last)
		}
		last = seq
		data, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(part.Header.Get("Content-Length")); n != len(data) {
			t.Fatalf("Content-Length %d, got %d bytes", n, len(data))
		}
		img, err := jpeg.Decode(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		want := testpic.Picture(320, 240, image.YCbCrSubsampleRatio420, uint32(seq%2))
		if p := testpic.PSNR(testpic.RGBA(want), img); p < 30 {
			t.Fatalf("part %d (frame %d): PSNR %.1f dB", i, seq, p)
		}
	}
}

func TestNothingIsEncodedWhileNobodyWatches(t *testing.T) {
	s, url := start(t, Options{})
	for i := 0; i < 20; i++ {
		f := testpic.Frame(64, 64, image.YCbCrSubsampleRatio420, uint32(i))
		s.Show(f)
		f.Release()
	}
	time.Sleep(50 * time.Millisecond)
	if n := s.Stats().JPEGsEncoded; n != 0 {
		t.Fatalf("%d JPEGs encoded with no viewer", n)
	}
	resp, err := http.Get(url + "/snapshot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Frame-Seq") != "19" {
		t.Fatalf("snapshot: %s, frame %s", resp.Status, resp.Header.Get("X-Frame-Seq"))
	}
	if _, err := jpeg.Decode(resp.Body); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().JPEGsEncoded; n != 1 {
		t.Fatalf("%d JPEGs encoded for one snapshot", n)
	}
}

func TestSnapshotBeforeAnyFrameIsUnavailable(t *testing.T) {
	_, url := start(t, Options{})
	resp, err := http.Get(url + "/snapshot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %s", resp.Status)
	}
}

func TestStatsJSON(t *testing.T) {
	t.Run("serves the receiver's stats when given", func(t *testing.T) {
		_, url := start(t, Options{Stats: func() any { return map[string]any{"fps": 29.5, "loss": 0.01} }})
		var got map[string]float64
		getJSON(t, url+"/stats.json", &got)
		if got["fps"] != 29.5 || got["loss"] != 0.01 {
			t.Fatalf("%v", got)
		}
	})
	t.Run("serves the view's own figures otherwise", func(t *testing.T) {
		s, url := start(t, Options{})
		f := testpic.Frame(64, 48, image.YCbCrSubsampleRatio420, 3)
		f.Sender = "192.0.2.1:9"
		s.Show(f)
		f.Release()
		var got ViewStats
		getJSON(t, url+"/stats.json", &got)
		if got.Frame.Seq != 3 || got.Frame.Width != 64 || got.Frame.Sender != "192.0.2.1:9" {
			t.Fatalf("%+v", got)
		}
	})
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestPageEmbedsTheStreamAndStats(t *testing.T) {
	_, url := start(t, Options{Title: ":5000"})
	for path, wants := range map[string][]string{
		"/":      {`<canvas id="video"`, `'/ws'`, `href="/mjpeg"`, `href="/stream.mjpg"`, `/stats.json`, `<title>HRVS: receiver on :5000</title>`},
		"/mjpeg": {`<img id="video" src="/stream.mjpg"`, `/stats.json`, `<title>HRVS: receiver on :5000</title>`},
	} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range wants {
			if !strings.Contains(string(b), want) {
				t.Fatalf("page %s lacks %s", path, want)
			}
		}
	}
	if r, _ := http.Get(url + "/nothing"); r == nil || r.StatusCode != 404 {
		t.Fatal("unknown path not 404")
	}
}

// TestSlowViewersHoldUpNobody has one viewer that never reads and many that do; the
// frames keep coming and the readers keep getting new pictures.
func TestSlowViewersHoldUpNobody(t *testing.T) {
	s, url := start(t, Options{})
	// A viewer that asks for the stream and never reads it.
	stuck, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fmt.Fprintf(stuck, "GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")

	pic := testpic.Picture(640, 480, image.YCbCrSubsampleRatio420, 0)
	var spent []time.Duration
	done := make(chan struct{}) // closed when the frames stop
	stop := make(chan struct{}) // closed to stop them
	var shown int
	go func() {
		defer close(done)
		for seq := uint32(0); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			f := receiver.NewFrame(pic, seq)
			t0 := time.Now()
			s.Show(f)
			spent = append(spent, time.Since(t0))
			f.Release()
			shown++
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	counts := make([]atomic.Int64, 8)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The viewer stops when the frames stop, even in the middle of waiting.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { <-done; cancel() }()
			req, _ := http.NewRequestWithContext(ctx, "GET", url+"/stream.mjpg", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			mr := multipart.NewReader(bufio.NewReader(resp.Body), params["boundary"])
			for {
				p, err := mr.NextPart()
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, p)
				counts[i].Add(1)
			}
		}()
	}
	// Frames keep coming until every reader has had 5 pictures, however slowly a busy
	// machine encodes them: the stuck viewer must not stop any of them.
	err = testrig.Wait(testrig.Patience, func() error {
		for i := range counts {
			if c := counts[i].Load(); c < 5 {
				return fmt.Errorf("viewer %d got %d pictures", i, c)
			}
		}
		return nil
	})
	close(stop)
	<-done
	wg.Wait()
	if err != nil {
		t.Fatalf("after %v: %v", testrig.Patience, err)
	}
	// Show hands the frame over and returns: typically a few microseconds. The median
	// call, not the sum, so that a busy machine preempting a few calls does not count.
	slices.Sort(spent)
	if med := spent[len(spent)/2]; med > 50*time.Millisecond/150 {
		t.Fatalf("the median Show call took %v of %d", med, len(spent))
	}
	st := s.Stats()
	if st.JPEGsEncoded > uint64(shown) {
		t.Fatalf("%d JPEGs for %d frames: some frame was encoded twice", st.JPEGsEncoded, shown)
	}
	pictures := make([]int64, len(counts))
	for i := range counts {
		pictures[i] = counts[i].Load()
	}
	t.Logf("%d frames shown, %d encoded (%.1f ms each), pictures per viewer %v", shown, st.JPEGsEncoded, st.EncodeMs, pictures)
}

func TestCloseEndsStreamsAndGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := testpic.Frame(64, 64, image.YCbCrSubsampleRatio420, 1)
	s.Show(f)
	f.Release()
	resp, err := http.Get("http://" + s.Addr().String() + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); read <- err }()
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	select {
	case <-read:
	case <-time.After(testrig.Patience):
		t.Fatal("the stream did not end at Close")
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	testrig.Eventually(t, testrig.Patience, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines after Close, %d before", n, before)
		}
		return nil
	})
}

func TestTooManyViewersAreRefused(t *testing.T) {
	s, url := start(t, Options{MaxClients: 1})
	f := testpic.Frame(64, 64, image.YCbCrSubsampleRatio420, 1)
	s.Show(f)
	f.Release()
	first, err := http.Get(url + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	second, err := http.Get(url + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second viewer: %s", second.Status)
	}
}
