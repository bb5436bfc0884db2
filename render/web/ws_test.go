package web

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// show shows img as frame seq, captured now.
func show(s *Server, img *image.YCbCr, seq uint32) {
	f := receiver.NewFrame(img, seq)
	f.Captured = time.Now()
	s.Show(f)
	f.Release()
}

// showing shows the pictures in turn at about fps, each captured when shown, until
// stopped; it reports the number of the newest frame shown.
func showing(s *Server, fps float64, pics ...*image.YCbCr) (newest func() uint32, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var last uint32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
		defer tick.Stop()
		for seq := uint32(1); ; seq++ {
			show(s, pics[int(seq)%len(pics)], seq)
			mu.Lock()
			last = seq
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint32 { mu.Lock(); defer mu.Unlock(); return last }, func() { cancel(); wg.Wait() }
}

// noise is a picture no JPEG compresses much.
func noise(w, h int, seed uint64) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(seed, 1))
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
	}
	return img
}

func patient(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testrig.Patience)
	t.Cleanup(cancel)
	return ctx
}

func TestATileViewerGetsTheWholePictureOnceThenOnlyWhatChanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		sub  image.YCbCrSubsampleRatio
	}{
		{"in 4:2:0", image.YCbCrSubsampleRatio420},
		{"in 4:2:2", image.YCbCrSubsampleRatio422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testrig.NoLeaks(t, "render/web.")
			s, url := start(t, Options{})
			ctx := patient(t)
			// 640x360 in 256x128 tiles: 3 x 3. The pictures differ only in a block
			// inside the bottom-left tile.
			pics := []*image.YCbCr{testpic.Picture(640, 360, tc.sub, 0), testpic.Picture(640, 360, tc.sub, 1)}
			show(s, pics[0], 1)
			v := dialTiles(t, url+"/ws")
			steps := []struct {
				pic   int
				tiles int
				reset bool
			}{{0, 9, true}, {0, 0, false}, {1, 1, false}, {1, 0, false}, {0, 1, false}}
			for i, step := range steps {
				if i > 0 {
					show(s, pics[step.pic], uint32(i+1))
				}
				b, err := v.next(ctx)
				if err != nil {
					t.Fatalf("batch %d: %v", i+1, err)
				}
				if b.frame.Seq != uint32(i+1) || len(b.tiles) != step.tiles || (b.frame.Flags&FrameReset != 0) != step.reset {
					t.Fatalf("batch %d: frame %d with %d tiles (flags %#x), want frame %d with %d tiles, reset %v",
						i+1, b.frame.Seq, len(b.tiles), b.frame.Flags, i+1, step.tiles, step.reset)
				}
				if step.tiles == 1 && (b.tiles[0].X != 0 || b.tiles[0].Y != 256 || b.tiles[0].W != 256 || b.tiles[0].H != 104) {
					t.Fatalf("batch %d: tile %dx%d at %d,%d, want the bottom-left 256x104 at 0,256", i+1, b.tiles[0].W, b.tiles[0].H, b.tiles[0].X, b.tiles[0].Y)
				}
				if p := testpic.PSNR(testpic.RGBA(pics[step.pic]), v.canvas); p < 30 {
					t.Fatalf("batch %d: the picture drawn from tiles is %.1f dB from the source, want >= 30", i+1, p)
				}
				if err := v.ack(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if st.TilesEncoded != 11 || st.WSBatches != 5 || st.WSTilesSent != 11 || st.JPEGsEncoded != 0 || st.WSBad != 0 {
				t.Fatalf("stats %+v: want 11 tiles encoded and sent in 5 batches, no MJPEG encoded, nothing bad", st)
			}
		})
	}
}

func TestManyTileViewersCostOneEncode(t *testing.T) {
	const viewers = 8
	s, url := start(t, Options{})
	ctx := patient(t)
	pics := []*image.YCbCr{testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 0), testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 1)}
	show(s, pics[0], 1)
	vs := make([]*tileViewer, viewers)
	for i := range vs {
		vs[i] = dialTiles(t, url+"/ws")
	}
	for round, want := range []int{9, 1} {
		if round > 0 {
			show(s, pics[1], 2)
		}
		for i, v := range vs {
			b, err := v.next(ctx)
			if err != nil {
				t.Fatalf("viewer %d: %v", i, err)
			}
			if len(b.tiles) != want {
				t.Fatalf("viewer %d got %d tiles of frame %d, want %d", i, len(b.tiles), b.frame.Seq, want)
			}
			if p := testpic.PSNR(testpic.RGBA(pics[round]), v.canvas); p < 30 {
				t.Fatalf("viewer %d: %.1f dB", i, p)
			}
			if err := v.ack(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := s.Stats(); st.TilesEncoded != 10 || st.WSTilesSent != 10*viewers {
		t.Fatalf("%d tiles encoded and %d sent for %d viewers, want 10 encoded (once each) and %d sent", st.TilesEncoded, st.WSTilesSent, viewers, 10*viewers)
	}
}

// A viewer that takes 250 ms over each batch gets, each time it asks, the newest frame
// there is: its lag stays bounded instead of growing by 200 ms a batch as a queue would.
func TestASlowTileViewerStaysOnTheNewestFrame(t *testing.T) {
	s, url := start(t, Options{})
	ctx := patient(t)
	newest, stop := showing(s, 30, testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 0), testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 1))
	defer stop()
	v := dialTiles(t, url+"/ws")
	const batches = 25
	var skipped uint32
	var worst time.Duration
	for i := range batches {
		b, err := v.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lag := b.at.Sub(time.UnixMicro(b.frame.CaptureUS))
		behind := newest() - b.frame.Seq
		t.Logf("batch %d: frame %d, %d behind the newest, %v after capture, %d skipped, %d tiles", i+1, b.frame.Seq, behind, lag.Round(time.Millisecond), b.frame.Skipped, len(b.tiles))
		worst = max(worst, lag)
		skipped += b.frame.Skipped
		time.Sleep(250 * time.Millisecond) // the slow page drawing
		if err := v.ack(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Queued, the last batch would be 25 x 217 ms ≈ 5.4 s old; on the newest frame it
	// is as old as one tiling and one trip, whatever the count.
	if worst > 2500*time.Millisecond {
		t.Fatalf("a batch arrived %v after its frame was captured: the slow viewer is queueing", worst)
	}
	if skipped < batches*3 {
		t.Fatalf("the slow viewer skipped only %d frames in %d batches of 250 ms at 30 fps", skipped, batches)
	}
	if st := s.Stats(); st.WSSkipped < uint64(skipped) {
		t.Fatalf("the view counts %d frames skipped, the viewer was told of %d", st.WSSkipped, skipped)
	}
}

// A viewer that never reads neither takes its batch nor acknowledges it; meanwhile
// another viewer gets frames, and after the ack timeout the stalled one is dropped.
func TestATileViewerThatDoesNotReadIsDroppedWithoutHoldingOthers(t *testing.T) {
	const ackTimeout = 5 * time.Second
	s, url := start(t, Options{Quality: 95, AckTimeout: ackTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout+2*testrig.Patience)
	defer cancel()
	_, stop := showing(s, 10, noise(640, 360, 1), noise(640, 360, 2))
	defer stop()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", s.Addr())
	v := dialTiles(t, url+"/ws")
	got := 0
	deadline := time.Now().Add(ackTimeout + testrig.Patience)
	for s.Stats().WSDropped == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the viewer that does not read was never dropped: %+v", s.Stats())
		}
		b, err := v.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got++
		t.Logf("batch %d: frame %d, %d tiles, %d bytes", got, b.frame.Seq, len(b.tiles), b.bytes)
		if err := v.ack(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if got < 2 {
		t.Fatalf("the reading viewer got %d batches while the other stalled", got)
	}
	testrig.Eventually(t, testrig.Patience, func() error {
		if n := s.Stats().WSViewers; n != 1 {
			return fmt.Errorf("%d WebSocket viewers, want the reading one", n)
		}
		return nil
	})
}

func TestBadMessagesFromAPageAreDroppedAndCounted(t *testing.T) {
	bad := []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
	}{
		{"a text message", websocket.MessageText, []byte("hello")},
		{"a short ack", websocket.MessageBinary, []byte{MsgAck, 0, 0}},
		{"an ack one byte too long", websocket.MessageBinary, append(AppendAck(nil, 1), 0)},
		{"an unknown type", websocket.MessageBinary, []byte{0x7f, 0, 0, 0, 1}},
		{"an ack of a batch never sent", websocket.MessageBinary, AppendAck(nil, 99)},
		{"an empty message", websocket.MessageBinary, nil},
	}
	s, url := start(t, Options{})
	ctx := patient(t)
	pic := testpic.Picture(320, 240, image.YCbCrSubsampleRatio420, 0)
	show(s, pic, 1)
	v := dialTiles(t, url+"/ws")
	b, err := v.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range bad {
		t.Run(m.name+" is counted and the viewer carries on", func(t *testing.T) {
			if err := v.c.Write(ctx, m.typ, m.msg); err != nil {
				t.Fatal(err)
			}
			testrig.Eventually(t, testrig.Patience, func() error {
				if n := s.Stats().WSBad; n != uint64(i+1) {
					return fmt.Errorf("%d bad messages counted, want %d", n, i+1)
				}
				return nil
			})
		})
	}
	t.Run("a good ack still brings the next frame", func(t *testing.T) {
		if err := v.ack(ctx, b); err != nil {
			t.Fatal(err)
		}
		show(s, pic, 2)
		if b, err = v.next(ctx); err != nil || b.frame.Seq != 2 {
			t.Fatalf("after the bad messages: frame %d, %v", b.frame.Seq, err)
		}
	})
	t.Run("a message longer than any the page sends ends the connection", func(t *testing.T) {
		before := s.Stats().WSBad
		if err := v.c.Write(ctx, websocket.MessageBinary, make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		_, _, err := v.c.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("read after a 4 KB message: %v, want close status 1009", err)
		}
		// The library sends the close before Read returns to the server, which
		// counts the message then: the count may trail the close a moment.
		testrig.Eventually(t, testrig.Patience, func() error {
			if n := s.Stats().WSBad; n != before+1 {
				return fmt.Errorf("%d bad messages counted, want %d", n, before+1)
			}
			return nil
		})
	})
	t.Run("a page that sends nothing but bad messages is cut off", func(t *testing.T) {
		w := dialTiles(t, url+"/ws")
		for range maxBadMessages {
			if err := w.c.Write(ctx, websocket.MessageText, []byte("?")); err != nil {
				break // the server may close before the last
			}
		}
		for {
			if _, _, err := w.c.Read(ctx); err != nil {
				if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
					t.Fatalf("after %d bad messages: %v, want close status 1008", maxBadMessages, err)
				}
				break
			}
		}
	})
}

func TestTheTileViewNeedsTheToken(t *testing.T) {
	s, url := start(t, Options{Token: "s3cret"})
	ctx := patient(t)
	show(s, testpic.Picture(64, 64, image.YCbCrSubsampleRatio420, 0), 1)
	for _, q := range []string{"", "?token=wrong"} {
		c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws"+q, nil)
		if err == nil {
			c.CloseNow()
			t.Fatalf("/ws%s: connected without the token", q)
		}
		if resp == nil || resp.StatusCode != 401 {
			t.Fatalf("/ws%s: %v, want 401", q, err)
		}
	}
	v := dialTiles(t, url+"/ws?token=s3cret")
	if _, err := v.next(ctx); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	// A page of another site cannot open the view with the cookie its browser holds.
	h := http.Header{"Origin": {"http://elsewhere.example"}}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws?token=s3cret", &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.CloseNow()
		t.Fatal("a page from another origin connected")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("from another origin: %v, want 403", err)
	}
}

func TestClosingTheServerEndsTileViewers(t *testing.T) {
	testrig.NoLeaks(t, "render/web.", "coder/websocket.")
	s, err := New("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := patient(t)
	show(s, testpic.Picture(64, 64, image.YCbCrSubsampleRatio420, 0), 1)
	v := dialTiles(t, "http://"+s.Addr().String()+"/ws")
	if _, err := v.next(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.c.Read(ctx); err == nil {
		t.Fatal("the viewer still reads after Close")
	}
	if n := s.Stats().WSViewers; n != 0 {
		t.Fatalf("%d viewers after Close", n)
	}
}
