package web

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/receiver"
	"github.com/hrvs/hrvs/render/internal/testpic"
)

// validBatch is what a server sends a new page: the tables and a whole picture.
func validBatch(t *testing.T, batch uint32) [][]byte {
	t.Helper()
	tl := &tiler{quality: 75, tw: 256, th: 128}
	set, _, err := tl.update(receiver.NewFrame(testpic.Picture(640, 360, image.YCbCrSubsampleRatio420, 0), 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	msgs := [][]byte{set.tables, AppendFrame(nil, &FrameMsg{Flags: FrameReset, Tiles: uint16(len(set.tiles)), Batch: batch,
		Seq: 1, Width: 640, Height: 360, SentUS: time.Now().UnixMicro()})}
	for i, tv := range set.tiles {
		r := set.grid.Rect(i)
		msgs = append(msgs, AppendTile(nil, &TileMsg{X: uint16(r.Min.X), Y: uint16(r.Min.Y), W: uint16(r.Dx()), H: uint16(r.Dy()), Seq: 1, Payload: tv.data}))
	}
	return msgs
}

// mutate returns a broken copy of one of msgs: cut short, bytes flipped, a wrong
// type, bytes appended, or noise.
func mutate(r *rand.Rand, msgs [][]byte) []byte {
	m := append([]byte(nil), msgs[r.IntN(len(msgs))]...)
	switch r.IntN(5) {
	case 0:
		return m[:r.IntN(len(m))]
	case 1:
		for range 1 + r.IntN(4) {
			m[r.IntN(len(m))] ^= byte(1 + r.IntN(255))
		}
	case 2:
		m[0] = byte(r.IntN(256))
	case 3:
		for range 1 + r.IntN(64) {
			m = append(m, byte(r.Uint32()))
		}
	case 4:
		m = make([]byte, r.IntN(64))
		for i := range m {
			m[i] = byte(r.Uint32())
		}
	}
	return m
}

// corruptScan returns tile message m with its scan cut short or some bytes changed.
func corruptScan(r *rand.Rand, m []byte) []byte {
	m = append([]byte(nil), m...)
	if r.IntN(2) == 0 {
		return m[:tileFixed+1+r.IntN(len(m)-tileFixed)]
	}
	for range 1 + r.IntN(8) {
		m[tileFixed+r.IntN(len(m)-tileFixed)] ^= byte(1 + r.IntN(255))
	}
	return m
}

// The page's parser of §11, fuzzed in the browser: a stand-in server sends it valid
// batches with broken messages between them. Whatever it gets, the page throws no
// exception and draws the next valid batch within seconds, on the same connection or
// on the one it opens after dropping a broken one.
func TestThePageSurvivesBrokenMessages(t *testing.T) {
	const rounds, broken = 12, 20
	ctx, cancel := context.WithTimeout(context.Background(), 3*testrig.Patience)
	defer cancel()
	valid := make([][][]byte, rounds)
	for i := range valid {
		valid[i] = validBatch(t, uint32(i+1))
	}
	source := validBatch(t, 0xffff0000) // broken messages never ack a valid batch
	next := make(chan int, 1)           // the round the next connection plays
	next <- 0
	played := make(chan int, rounds)
	failed := make(chan string, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		tilePageTmpl.Execute(w, struct{ Title string }{"broken messages"})
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		acks := make(chan uint32, 64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(acks)
			for {
				_, m, err := c.Read(ctx)
				if err != nil {
					return
				}
				if b, err := ParseAck(m); err == nil {
					select {
					case acks <- b:
					default:
					}
				}
			}
		}()
		round := <-next
		defer func() { next <- round }()
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		for ; round < rounds; round++ {
			for _, m := range valid[round] {
				if c.Write(ctx, websocket.MessageBinary, m) != nil {
					return
				}
			}
			for waiting := true; waiting; {
				select {
				case b, ok := <-acks:
					if !ok {
						return // the page dropped the connection: it plays this round again
					}
					waiting = b != uint32(round+1)
				case <-time.After(testrig.Patience):
					select {
					case failed <- fmt.Sprintf("round %d: no ack of the valid batch", round):
					default:
					}
					return
				case <-ctx.Done():
					return
				}
			}
			played <- round
			if round%2 == 1 {
				// Well-formed messages, corrupt scans: the page counts the tiles it cannot
				// decode and carries on without dropping the connection.
				for i, m := range source[1:] {
					if i > 0 {
						m = corruptScan(rng, m)
					}
					if c.Write(ctx, websocket.MessageBinary, m) != nil {
						round++
						return
					}
				}
				continue
			}
			for range broken {
				typ := websocket.MessageBinary
				if rng.IntN(10) == 0 {
					typ = websocket.MessageText
				}
				if c.Write(ctx, typ, mutate(rng, source)) != nil {
					round++
					return
				}
			}
		}
		<-ctx.Done()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ln) }()
	defer srv.Close()
	tb := launchChromium(t).open(t, "http://"+ln.Addr().String()+"/")
	testrig.Eventually(t, testrig.Patience, func() error {
		var loaded bool
		if err := tb.eval(ctx, `typeof window.hrvs === 'object'`, &loaded); err != nil || !loaded {
			return fmt.Errorf("the page has not loaded: %v", err)
		}
		return nil
	})
	var ok bool
	if err := tb.eval(ctx, `window.__errs = 0; addEventListener('error', () => window.__errs++); addEventListener('unhandledrejection', () => window.__errs++); true`, &ok); err != nil {
		t.Fatal(err)
	}
	for range rounds {
		select {
		case <-played:
		case why := <-failed:
			t.Fatal(why)
		case <-ctx.Done():
			f, _ := tb.figures(context.Background())
			t.Fatalf("the page stopped drawing valid batches: %+v", f)
		}
	}
	f, err := tb.figures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var errs int
	if err := tb.eval(ctx, `window.__errs`, &errs); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d valid batches drawn between broken messages and corrupt scans: the page counted %d errors", rounds, f.Errors)
	if errs != 0 {
		t.Fatalf("the page threw %d exceptions", errs)
	}
	if f.Errors == 0 {
		t.Fatal("the page counted no error")
	}
}
