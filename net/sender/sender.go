// Package sender turns frames from a capture.Source into tile datagrams: it cuts
// each frame into tiles, sends only the tiles that changed since the version the
// receiver holds (plus the ones the receiver reported missing and a slow rolling
// refresh), encodes them on a pool of workers and sends each as soon as it is
// encoded, paced. Acknowledgements drive repair and a rate controller that trades
// JPEG quality, refresh pace and, last, frame rate against the path's bandwidth.
//
// One job per file: sender.go is the configuration and the pipeline; choose.go
// picks a frame's tiles (change.go is the change test); encode.go is the encoder
// pool; packer.go cuts tiles into datagrams and adds parity (net/fec) and the end
// marker; ledger.go keeps what is in flight and learns from acknowledgements;
// rate.go is rate control, pacer.go the pacer, stats.go the counters.
package sender

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/net/control"
	"github.com/hrvs/hrvs/net/fec"
	"github.com/hrvs/hrvs/net/seal"
	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/udp"
	"github.com/hrvs/hrvs/net/wire"
)

// Config holds the sender's settings; zero values take the defaults noted.
type Config struct {
	To           string // receiver host:port; UDP datagrams and the TCP control link share it
	Quality      int    // highest JPEG quality 1..100, where rate control starts (75)
	MinQuality   int    // lowest quality rate control may choose before it skips frames (DefaultMinQuality)
	TileW, TileH int    // tile size, multiples of 16 (DefaultTileW x DefaultTileH)
	MTU          int    // largest datagram payload in bytes, header included (1400)
	Workers      int    // tile encoders (runtime.NumCPU)
	Sockets      int    // source sockets, i.e. source ports, to spread over the receiver's pool (4)
	Window       int    // frames sent but not acknowledged before capture frames are skipped (3)
	RateBits     int64  // peak pacing rate in bit/s, the link's line rate (1 Gbit/s)
	// MaxBitrate caps the average rate in bit/s (0: only the path's measured capacity limits it).
	MaxBitrate int64
	// ChangeThreshold is the mean absolute difference, in 8-bit levels over a 16x16
	// block, above which a tile counts as changed (DefaultChangeThreshold); negative
	// sends every tile of every frame (no conditional replenishment).
	ChangeThreshold int
	// Refresh is the period within which every tile is sent again even if unchanged,
	// so a receiver that joins late or missed a repair heals (DefaultRefresh).
	Refresh time.Duration
	// FEC sets Reed-Solomon parity: 0 adapts the parity to the measured loss (none
	// while the path loses under 0.5%), -1 never sends parity, 1..100 sends that
	// many parity datagrams per hundred data datagrams of every block.
	FEC int
	// FrameSpan is the longest a frame may take to cross the path at the target
	// rate once the quality is at its lowest: tiles beyond it wait for the next
	// frames (DefaultFrameSpan; negative never trims, for tests of fidelity).
	FrameSpan time.Duration
	// MJPEG is what frames a source hands through compressed become: MJPEGRetile
	// (the default), MJPEGSplit or MJPEGDecode.
	MJPEG      string
	NewEncoder func() tile.Encoder // tile encoder per worker (tile.FastEncoder)
	// DialControl, when set, dials the TCP control link (tests run senders inside
	// network namespaces with it); nil uses net.Dialer.
	DialControl func(ctx context.Context, addr string) (net.Conn, error)
	Stream      uint32 // stream id; 0 picks a random one
	// Key, when set, seals every datagram and the control link (docs/PROTOCOL.md §7):
	// only a receiver holding the same key can read or be fed the stream. Each datagram
	// then carries seal.Overhead bytes more within the MTU.
	Key *seal.Key
	// Iface, TTL and GroupFloor apply when To is an IPv4 multicast group (group.go,
	// docs/PROTOCOL.md §10): the interface datagrams leave through ("": the route's),
	// their TTL (udp.DefaultTTL: the LAN only), and the rate in bit/s below which the
	// group stops following one receiver far behind the rest (DefaultGroupFloor).
	Iface      string
	TTL        int
	GroupFloor int64
	Log        *slog.Logger
}

// Defaults; docs/PROTOCOL.md explains the tile size, docs/CONTROL.md the rest.
const (
	DefaultTileW           = tile.DefaultW
	DefaultTileH           = tile.DefaultH
	DefaultMTU             = 1400
	DefaultQuality         = 75
	DefaultMinQuality      = 20
	DefaultWindow          = 3
	DefaultRateBits        = 1_000_000_000
	DefaultChangeThreshold = 4
	DefaultRefresh         = 2 * time.Second
	DefaultFrameSpan       = 40 * time.Millisecond
	MinMTU                 = 256
)

func (c *Config) fill() error {
	if c.Quality == 0 {
		c.Quality = DefaultQuality
	}
	if c.MinQuality == 0 {
		c.MinQuality = min(DefaultMinQuality, c.Quality)
	}
	if c.TileW == 0 && c.TileH == 0 {
		c.TileW, c.TileH = DefaultTileW, DefaultTileH
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Sockets <= 0 {
		c.Sockets = 4
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.RateBits <= 0 {
		c.RateBits = DefaultRateBits
	}
	if c.ChangeThreshold == 0 {
		c.ChangeThreshold = DefaultChangeThreshold
	}
	if c.Refresh == 0 {
		c.Refresh = DefaultRefresh
	}
	if c.FrameSpan == 0 {
		c.FrameSpan = DefaultFrameSpan
	}
	if c.MJPEG == "" {
		c.MJPEG = MJPEGRetile
	}
	if c.NewEncoder == nil {
		c.NewEncoder = func() tile.Encoder { return &tile.FastEncoder{} }
	}
	for c.Stream == 0 {
		c.Stream = rand.Uint32()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Quality < 1 || c.Quality > 100:
		return fmt.Errorf("quality %d: must be 1..100", c.Quality)
	case c.MinQuality < 1 || c.MinQuality > c.Quality:
		return fmt.Errorf("minimum quality %d: must be 1..%d (the quality)", c.MinQuality, c.Quality)
	case c.MTU < MinMTU || c.MTU > wire.MaxDatagram:
		return fmt.Errorf("mtu %d: must be %d..%d", c.MTU, MinMTU, wire.MaxDatagram)
	case c.TileW <= 0 || c.TileH <= 0 || c.TileW%16 != 0 || c.TileH%16 != 0 || c.TileW > wire.MaxTileW || c.TileH > wire.MaxTileH:
		return fmt.Errorf("tile %dx%d: both sides must be multiples of 16, up to %dx%d", c.TileW, c.TileH, wire.MaxTileW, wire.MaxTileH)
	case c.MaxBitrate < 0 || (c.MaxBitrate > 0 && c.MaxBitrate < 100_000):
		return fmt.Errorf("max bitrate %d bit/s: must be 0 (none) or at least 100 kbit/s", c.MaxBitrate)
	case c.ChangeThreshold > 255:
		return fmt.Errorf("change threshold %d: must be at most 255 levels", c.ChangeThreshold)
	case c.FEC < -1 || c.FEC > 100:
		return fmt.Errorf("fec %d: must be -1 (off), 0 (adaptive) or 1..100 parity datagrams per 100", c.FEC)
	case c.MJPEG != MJPEGRetile && c.MJPEG != MJPEGSplit && c.MJPEG != MJPEGDecode:
		return fmt.Errorf("mjpeg %q: must be %s, %s or %s", c.MJPEG, MJPEGRetile, MJPEGSplit, MJPEGDecode)
	case c.Refresh < 100*time.Millisecond:
		return fmt.Errorf("refresh period %v: must be at least 100ms", c.Refresh)
	}
	return nil
}

// Sender streams frames to one receiver. The pipeline is: submit (on Run's
// goroutine) asks the ledger and rate control whether a frame may go and the
// chooser which tiles it carries; the encoders encode them and hand them to the
// packer, which sends them with the frame's parity and end marker; the ledger
// learns from the control link's acknowledgements what arrived.
type Sender struct {
	cfg   Config
	conns []*net.UDPConn
	ctl   feedback // the control link: one receiver's, or a multicast group's
	grp   *group   // the group, when multicast
	pace  pacer
	pack  *packer
	pool  *encoders
	fec   *fec.Encoder
	count counters

	// Run's goroutine alone: the encoder that answers which format a picture's
	// scans take, and its answers by subsampling.
	probe   tile.Encoder
	formats map[image.YCbCrSubsampleRatio]uint8
	// mj re-tiles handed-through MJPEG frames (Config.MJPEG retile; nil: decode).
	mj             *retiler
	tablesOut      *outbox // submit's own, for table datagrams (mjpeg.go); nil until first used
	fallbackWarn   sync.Once
	unreadableWarn sync.Once

	// acked is signalled after each acknowledgement, for a source that waits for
	// the window.
	acked chan struct{}
	waits bool // the source waits for the path (a file, a source without a rate): Run's, under mu

	mu      sync.Mutex // guards the ledger, rate control, the chooser and what follows
	led     *ledger
	rc      *rateControl
	choose  chooser
	format  uint8 // the format byte of the grid's frames (scanFormat)
	frameNo uint32
	skipped int  // frames skipped for rate since the last one sent
	paced   bool // the last frame spent longer in the pacer than encoding: busy encoders are the path's doing
}

// New checks cfg and opens the sockets; nothing is sent until Run.
func New(cfg Config) (*Sender, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	multicast := udp.IsGroup(cfg.To)
	raddr, err := net.ResolveUDPAddr("udp", cfg.To)
	if err != nil {
		return nil, fmt.Errorf("receiver address %q: %w", cfg.To, err)
	}
	mtu := cfg.MTU // the clear datagram's: sealing adds seal.Overhead
	var sealer *seal.Sealer
	var random [seal.RandomSize]byte
	suite := seal.PreferredSuite()
	if cfg.Key != nil {
		mtu -= seal.Overhead
		if random, err = seal.Random(); err != nil {
			return nil, err
		}
		if sealer, err = seal.NewSealer(suite, seal.DatagramKey(*cfg.Key, suite, cfg.Stream, random[:])); err != nil {
			return nil, err
		}
	}
	parity, err := fec.NewEncoder(cfg.FEC, mtu)
	if err != nil {
		return nil, fmt.Errorf("parity: %w", err)
	}
	s := &Sender{cfg: cfg, pool: newEncoders(), fec: parity, probe: cfg.NewEncoder(), acked: make(chan struct{}, 1),
		formats: make(map[image.YCbCrSubsampleRatio]uint8), rc: newRateControl(cfg.MaxBitrate, cfg.Quality, cfg.MinQuality)}
	s.choose = chooser{threshold: cfg.ChangeThreshold, refresh: cfg.Refresh, span: cfg.FrameSpan, count: &s.count}
	s.pack = &packer{pace: &s.pace, mtu: mtu, count: &s.count, sealer: sealer, log: cfg.Log}
	if cfg.MJPEG != MJPEGDecode {
		s.mj = &retiler{threshold: 2 * float64(cfg.ChangeThreshold), mtu: mtu,
			trySplit: cfg.MJPEG == MJPEGSplit || cfg.ChangeThreshold < 0, mode: cfg.MJPEG}
		if !s.mj.canRetile() {
			cfg.Log.Warn("--mtu too small for a table datagram: MJPEG frames are decoded and encoded, not re-tiled",
				"mtu", cfg.MTU, "needs", cfg.MTU-mtu+wire.HeaderSize+wire.MaxTableSet)
		}
	}
	for i := 0; i < cfg.Sockets && !multicast; i++ {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			s.closeConns()
			return nil, fmt.Errorf("open udp socket to %s: %w", cfg.To, err)
		}
		if _, snd, err := udp.RaiseBuffers(c, udp.BufferBytes); err == nil && i == 0 && snd < udp.BufferBytes {
			cfg.Log.Info("send buffer smaller than asked (raise net.core.wmem_max or run as root)", "got", snd, "asked", udp.BufferBytes)
		}
		s.conns = append(s.conns, c)
		s.pack.conns = append(s.pack.conns, c)
	}
	if multicast {
		if err := s.openGroup(sealer, suite, random); err != nil {
			return nil, err
		}
	} else {
		cl := &control.Client{Addr: cfg.To, Stream: cfg.Stream, Log: cfg.Log, OnAck: s.onAck, OnDrops: s.onDrops, Dial: cfg.DialControl}
		if sealer != nil {
			keyedClient(cl, cfg.Key, suite, random, sealer.Next)
		}
		s.ctl = cl
	}
	s.led = newLedger(cfg.Stream, cfg.Window, cfg.RateBits, s.ctl, s.rc, &s.pace, &s.count, cfg.Log)
	s.pace.setRate(s.rc.paceBits(time.Now(), cfg.RateBits))
	return s, nil
}

func (s *Sender) closeConns() {
	for _, c := range s.conns {
		c.Close()
	}
}

// Stream is the stream id this sender stamps on every datagram.
func (s *Sender) Stream() uint32 { return s.cfg.Stream }

// dispatched is the number of frames handed to the workers so far.
func (s *Sender) dispatched() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(s.frameNo)
}

// Run sends frames from src until ctx ends, src ends, or maxFrames frames have been
// sent (0: no limit). It returns nil on a normal end.
func (s *Sender) Run(ctx context.Context, src capture.Source, maxFrames int) error {
	defer s.closeConns()
	ctlCtx, stopCtl := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.ctl.Run(ctlCtx) }()
	s.pool.start(s.cfg.Workers, s.cfg.NewEncoder, s.pack.newOutbox, s.encodeTile)
	defer func() {
		s.pool.stop()
		s.mu.Lock()
		s.choose.letGo()
		s.mu.Unlock()
		// Give the receiver a moment to acknowledge the last frames before the link closes.
		s.drainAcks(300 * time.Millisecond)
		stopCtl()
		wg.Wait()
	}()
	if s.cfg.Key != nil && s.grp == nil {
		// No receiver can open a keyed stream's datagrams before it has proved the key
		// on the control link: sending earlier would only be dropped. (Multicast
		// receivers find the sender's control port from its datagrams, so a group
		// gets them at once, docs/PROTOCOL.md §10.2.)
		s.cfg.Log.Info("keyed: waiting for the receiver to prove the key", "to", s.cfg.To, "key", s.cfg.Key.Fingerprint())
		select {
		case <-s.ctl.Ready():
		case <-ctx.Done():
			// The run ended with nothing sent: say why rather than end as if all
			// went well (a key the receiver does not hold is the usual cause).
			if err := s.ctl.Refusal(); err != nil {
				return fmt.Errorf("keyed: nothing sent, the receiver refused the key: %w", err)
			}
			return fmt.Errorf("keyed: nothing sent, no receiver proved the key before the run ended")
		}
	}
	// A source with no rate of its own makes a frame whenever asked, and a file
	// holds its frames until they are read: such a source waits for the encoders and
	// the path (back-pressure) and loses no frame. A live source cannot wait: its
	// frames are skipped when the encoders, the window or the rate cannot take them.
	info := src.Info()
	waits := info.FPS == 0 || info.Stored
	s.mu.Lock()
	s.rc.setSource(info.FPS, waits)
	s.waits = waits
	s.mu.Unlock()
	// Count frames handed to the workers, not finished ones: the loop asks for the
	// next frame while the last is still being encoded.
	for maxFrames <= 0 || s.dispatched() < uint64(maxFrames) {
		for waits && s.pool.busy.Load() && ctx.Err() == nil {
			select {
			case <-s.pool.idle:
			case <-ctx.Done():
			}
		}
		if waits {
			s.waitForPath(ctx)
		}
		f, err := src.Next(ctx)
		if err != nil {
			if errors.Is(err, capture.ErrEnd) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("capture: %w", err)
		}
		s.count.captured.Add(1)
		if err := s.submit(f); err != nil {
			return err
		}
	}
	// Let the last frame's tiles leave before returning.
	for s.pool.busy.Load() && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	return nil
}

// windowPoll is how often a source waiting for a full window looks again when no
// acknowledgement wakes it: the oldest frame's ack timeout frees the window too.
const windowPoll = 10 * time.Millisecond

// waitForPath holds a source that can wait until the path takes its next frame:
// the window has room and the rate credit covers it. Its frames are then captured
// and sent, never skipped for the window or the rate.
func (s *Sender) waitForPath(ctx context.Context) {
	for ctx.Err() == nil {
		s.mu.Lock()
		now := time.Now()
		closed := s.led.checkLoop(now)
		s.led.expire(now, closed)
		full := closed && s.led.windowFull()
		wait := s.rc.creditWait(now)
		s.mu.Unlock()
		if !full && wait <= 0 {
			return
		}
		if full {
			wait = windowPoll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-s.acked:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Sender) drainAcks(max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && s.ctl.Connected() {
		s.mu.Lock()
		n := s.led.outstanding()
		s.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// onAck hands an acknowledgement from the control link to the ledger.
func (s *Sender) onAck(a *wire.Ack, now time.Time) {
	s.mu.Lock()
	s.led.onAck(a, now)
	s.mu.Unlock()
	select {
	case s.acked <- struct{}{}:
	default:
	}
}

// onDrops hands the receiver's count of the datagrams it dropped itself to the
// ledger (docs/PROTOCOL.md §5.4).
func (s *Sender) onDrops(d wire.Drops, now time.Time) {
	s.mu.Lock()
	s.led.onDrops(d, now)
	s.mu.Unlock()
}

// submit picks the tiles of frame f that must go, and hands them to the workers; or
// drops f when the workers are still busy with the previous frame, the receiver is
// Window frames behind, or the rate budget is spent. Busy encoders are counted as
// the CPU's limit unless the last frame spent longer in the pacer than encoding,
// which is the path's.
func (s *Sender) submit(f *capture.Frame) error {
	now := time.Now()
	if s.pool.busy.Load() {
		s.mu.Lock()
		if s.paced {
			s.rc.offered(now)
			s.skipped++
			s.count.dropRate.Add(1)
		} else {
			s.rc.skipCPU(now)
			s.count.dropBusy.Add(1)
		}
		s.mu.Unlock()
		f.Release()
		return nil
	}
	var rt *retiler // set when f's JPEG was re-tiled (mjpeg.go)
	if f.JPEG != nil {
		retiled, err := s.retileFrame(f, now)
		if err != nil { // neither re-tiled nor decoded: the frame is lost, the stream goes on
			s.count.encErrs.Add(1)
			s.count.unreadable.Add(1)
			f.Release()
			return nil
		}
		if retiled {
			rt = s.mj
		}
	}
	img := f.Image
	var format uint8
	if rt != nil {
		format = rt.format()
	} else if known, ok := s.formats[img.SubsampleRatio]; ok {
		format = known
	} else {
		var err error
		if format, err = scanFormat(s.probe, img); err != nil {
			f.Release()
			return err
		}
		s.formats[img.SubsampleRatio] = format
	}
	s.mu.Lock()
	closed := s.led.checkLoop(now)
	s.led.expire(now, closed)
	// A source that waits was held by waitForPath just before its frame was read; the
	// window may have filled since only because the control link came up meanwhile
	// (frames sent open loop count from then on), and such a frame is sent, not lost.
	if closed && s.led.windowFull() && !s.waits {
		s.mu.Unlock()
		s.count.dropWindow.Add(1)
		f.Release()
		return nil
	}
	if s.rc.receiverSkip(now) {
		// A receiver that drops datagrams itself: fewer frames, and no sign that
		// the quality is too high (s.skipped stays).
		s.mu.Unlock()
		s.count.dropReceiver.Add(1)
		f.Release()
		return nil
	}
	if !s.rc.frameBudget(now) {
		s.skipped++
		s.mu.Unlock()
		s.count.dropRate.Add(1)
		f.Release()
		return nil
	}
	fw, fh, ratio := frameSize(img, rt)
	if g := s.choose.grid; g.W != fw || g.H != fh || (s.format != format && !retiledFormats(s.format, format)) ||
		s.choose.ref == nil || s.choose.ref.SubsampleRatio != ratio {
		// The grid's tiles are whole MCUs of the scans' subsampling, which the format names.
		g, err := tile.NewGrid(fw, fh, s.cfg.TileW, s.cfg.TileH, format&0xf)
		if err != nil {
			s.mu.Unlock()
			f.Release()
			return err
		}
		s.format = format
		s.led.reset(g.Len())
		s.choose.reset(g, image.NewYCbCr(image.Rect(0, 0, g.W, g.H), ratio))
		if rt != nil {
			rt.reset(g.Len())
		}
	}
	quality := s.rc.quality
	s.choose.test = nil
	if rt != nil {
		quality, s.choose.test = int(rt.set.id), rt.changedTile // codecs 1 and 2: the quality byte names the table set
	}
	jobs, deferred := s.choose.pick(now, img, s.led.tiles, s.rc.budget())
	s.frameNo++
	fj := &frameJob{f: f, grid: s.choose.grid, deferred: deferred, start: now, rt: rt,
		hdr:   frameHeader(s.cfg.Stream, s.frameNo, f.Time.UnixMicro(), s.choose.grid, uint16(len(jobs)), quality, format),
		sizes: make([]int32, len(jobs)), tiles: make([]uint16, len(jobs))}
	if s.fec.Protect(s.parityLoss()) {
		fj.parity = s.fec.Start()
	}
	for i := range jobs {
		jobs[i].pos, jobs[i].fj = i, fj
		fj.tiles[i] = uint16(jobs[i].tile)
	}
	s.led.record(s.frameNo, fj.tiles, &fj.sent, now)
	if rt == nil {
		// The frame is the reference of its tiles from now on: the next change
		// test runs once it is done (busy), and nothing writes to it meanwhile.
		fj.held = s.choose.hold(f, fj.tiles)
	}
	s.mu.Unlock()
	if rt != nil {
		fj.prepare = time.Since(now)
		s.sendTables(fj, now) // before the frame's first tile
	}
	fj.left.Store(int32(len(jobs)))
	s.pool.submit(jobs)
	return nil
}

// frameDone follows the frame's last tile with its parity and end marker, and
// tells the ledger and rate control what the frame cost; o is the outbox of the
// encoder that sent the last tile.
func (s *Sender) frameDone(o *outbox, fj *frameJob) {
	s.mu.Lock()
	loss, _ := s.parityLoss()
	s.mu.Unlock()
	s.pack.finish(o, fj, loss)
	now := time.Now()
	s.count.encodeTime.Add(now.Sub(fj.start))
	if !fj.held {
		fj.f.Release()
	}
	// The encoders' time for the frame: each tile's encoding summed over the
	// workers that shared them, pacing excluded.
	share := int64(max(1, min(s.cfg.Workers, len(fj.tiles))))
	encode, paced := time.Duration(fj.sent.encoding.Load()/share)+fj.prepare, time.Duration(fj.sent.paced.Load()/share)
	s.mu.Lock()
	s.led.sent(fj.hdr.Frame, fj.sizes, now)
	bytes := int(fj.sent.bytes.Load())
	s.rc.frameSent(now, bytes, bytes+fj.deferred, s.skipped, encode)
	s.skipped = 0
	s.paced = paced > encode
	s.pace.setRate(s.rc.paceBits(now, s.cfg.RateBits))
	s.mu.Unlock()
	s.count.sent.Add(1)
	s.pool.done()
}

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	g := s.choose.grid
	rc := *s.rc
	open := s.led.openLoop
	s.mu.Unlock()
	refusal := ""
	if err := s.ctl.Refusal(); err != nil {
		refusal = err.Error()
	}
	st := Stats{
		RTTMs:            float64(s.ctl.RTT()) / float64(time.Millisecond),
		ControlConnected: s.ctl.Connected(), ControlReconnects: s.ctl.Reconnects(), OpenLoop: open,
		Refusal: refusal, Keyed: s.cfg.Key != nil,
		Quality: rc.quality, TargetMbps: rc.target / 1e6, ReceiveMbps: rc.recvRate / 1e6,
		QueueDelayMs: rc.queueMs, LossPct: 100 * rc.loss, FECPct: s.fec.Share(), RefreshFactor: rc.refreshX,
		Stream: s.cfg.Stream, Width: g.W, Height: g.H, Tiles: g.Len(),
		FramesLateCPU: rc.lateNotPath, LossAtReceiver: rc.rxExplained, QualityCuts: rc.qualityCuts, TargetCuts: map[string]uint64{},
	}
	if rc.qualityCuts > 0 {
		st.QualityCutReason = rc.qualityReason.String()
	}
	for r, n := range rc.cuts {
		if n > 0 {
			st.TargetCuts[cutReason(r).String()] = n
		}
	}
	s.count.snapshot(&st)
	if s.grp != nil {
		st.Receivers = s.grp.receivers(time.Now())
	}
	st.MJPEG = s.mjpegMode()
	if s.mj != nil {
		st.FramesRetiled, st.FramesFellBack = s.mj.retiled.Load(), s.mj.fellBack.Load()
		st.FramesSplit, st.FramesSplitFellBack = s.mj.split.Load(), s.mj.splitFellBack.Load()
	}
	if st.FramesSent > 0 && g.Len() > 0 {
		st.TileShare = float64(st.TilesSent) / float64(st.FramesSent) / float64(g.Len())
	}
	return st
}
