package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// RFC 2435 §3.1.5 and §3.1.6: width and height travel in 8-pixel units in one byte,
// so RTP/JPEG cannot describe a picture wider or taller than 2040 pixels.
const rfc2435MaxSide = 2040

// peer is a system that reads raw I420 frames on its sender's stdin and writes
// decoded I420 frames on its receiver's stdout: GStreamer and ffmpeg, each with
// RTP/JPEG on the wire. The pipes let the runner stamp both ends of every frame
// with one clock.
type peer struct {
	name string
	// argv returns the receiver's and the sender's command lines for one run.
	argv func(r *run) (recv, send []string, err error)
	// ready is how long the receiver needs to open its socket before the sender
	// may start.
	ready time.Duration
}

// run is one measurement: one system, clip, size and rate.
type run struct {
	clip    *loadedClip
	rate    float64 // frames per second; 0 as fast as possible
	quality int
	ffQ     int // ffmpeg -q:v matched to quality (see calibrate)
	port    int
	dir     string // scratch directory for this run
}

// loadedClip is a clip file held in memory, so feeding it costs no disk reads
// during a run.
type loadedClip struct {
	spec clipSpec
	path string
	data []byte // frames back to back, I420 without y4m tags
}

func (c *loadedClip) frame(i int) []byte {
	fb := frameBytes(c.spec.W, c.spec.H)
	return c.data[i*fb : (i+1)*fb]
}

func loadClip(path string, spec clipSpec) (*loadedClip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load clip: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load clip: %w", err)
	}
	yc, err := openY4MClip(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("load clip %s: %w", path, err)
	}
	if yc.hdr.W != spec.W || yc.hdr.H != spec.H || yc.n < spec.Frames {
		return nil, fmt.Errorf("load clip %s: %dx%d with %d frames, want %dx%d with %d", path, yc.hdr.W, yc.hdr.H, yc.n, spec.W, spec.H, spec.Frames)
	}
	fb := frameBytes(spec.W, spec.H)
	lc := &loadedClip{spec: spec, path: path, data: make([]byte, fb*spec.Frames)}
	for i := 0; i < spec.Frames; i++ {
		if _, err := yc.Frame(i, lc.data[i*fb:(i+1)*fb]); err != nil {
			return nil, fmt.Errorf("load clip %s: %w", path, err)
		}
	}
	return lc, nil
}

// psnrSamples bounds the received frames kept for PSNR; they are compared after the
// run so the comparison does not compete with the systems for the CPU.
const psnrSamples = 24

// measurePeer runs p's receiver and sender over loopback and feeds the clip through.
func measurePeer(ctx context.Context, p *peer, r *run, counter *udpCounter) Result {
	res := newResult(p.name, r)
	spec := r.clip.spec
	if spec.W > rfc2435MaxSide || spec.H > rfc2435MaxSide {
		res.Skipped = fmt.Sprintf("RFC 2435 (RTP/JPEG) cannot carry frames wider or taller than %d px", rfc2435MaxSide)
		return res
	}
	recvArgv, sendArgv, err := p.argv(r)
	if err != nil {
		res.Err = err
		return res
	}
	res.Commands = []string{shellJoin(recvArgv), shellJoin(sendArgv)}
	if counter != nil {
		if err := counter.watch(ctx, r.port); err != nil {
			res.Note = append(res.Note, "bytes unknown: "+err.Error())
			counter = nil
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, runLimit(r))
	defer cancel()

	var out io.ReadCloser
	rx, err := startChild(runCtx, p.name+" receiver", recvArgv, func(c *exec.Cmd) error {
		var err error
		out, err = c.StdoutPipe()
		return err
	})
	if err != nil {
		res.Err = err
		return res
	}
	sink := newFrameSink(spec, r.clip)
	var readWG sync.WaitGroup
	readWG.Add(1)
	go func() { defer readWG.Done(); sink.read(out) }()

	select {
	case <-time.After(p.ready):
	case <-runCtx.Done():
	}
	var in io.WriteCloser
	tx, err := startChild(runCtx, p.name+" sender", sendArgv, func(c *exec.Cmd) error {
		var err error
		in, err = c.StdinPipe()
		return err
	})
	if err != nil {
		rx.stop(2 * time.Second)
		readWG.Wait()
		res.Err = err
		return res
	}
	// The sender reads its first frame only once it has started up; the clip's
	// timeline starts after that, or start-up would count as the first frames'
	// latency.
	select {
	case <-time.After(p.ready):
	case <-runCtx.Done():
	}
	sent, skipped := feed(runCtx, in, r, sink)
	in.Close()
	res.SendCPU, err = tx.wait(runLimit(r))
	if err != nil {
		res.Err = err
	}
	// The receiver never ends by itself (UDP has no end of stream): let the last
	// frames drain, then interrupt it.
	sink.waitQuiet(runCtx, 600*time.Millisecond)
	res.RecvCPU = rx.stop(3 * time.Second)
	readWG.Wait()
	if err := rx.exitErr(); err != nil && res.Err == nil && sink.frames() == 0 {
		res.Err = err
	}
	res.Sent = sent
	if skipped > 0 {
		res.Note = append(res.Note, fmt.Sprintf("%d frames skipped at the source (sender busy)", skipped))
	}
	sink.summarise(&res)
	if counter != nil {
		if b, d, err := counter.read(ctx, r.port); err == nil {
			res.Bytes, res.Datagrams = b, d
		}
	}
	return res
}

// runLimit bounds a run so a wedged tool cannot hang the benchmark.
func runLimit(r *run) time.Duration {
	per := 250 * time.Millisecond
	if r.rate > 0 {
		per = time.Duration(float64(time.Second) / r.rate)
	}
	return 30*time.Second + time.Duration(r.clip.spec.Frames)*per*2
}

// feed writes the clip's frames into the sender's stdin, at r.rate or as fast as
// the sender takes them. Like a camera it does not queue: at a rate, a frame whose
// slot passed while the sender was still taking the previous one is skipped. It
// notes when each frame's first byte went in: that is the frame's capture instant.
func feed(ctx context.Context, in io.Writer, r *run, sink *frameSink) (sent, skipped int) {
	start := time.Now()
	n := r.clip.spec.Frames
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		if r.rate > 0 {
			due := start.Add(time.Duration(float64(i) / r.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			} else if -d > time.Duration(float64(time.Second)/r.rate) {
				skipped++
				continue
			}
		}
		sink.captured(i, time.Now())
		if _, err := in.Write(r.clip.frame(i)); err != nil {
			break
		}
		sent++
	}
	return sent, skipped
}

// frameSink reads the receiver's decoded frames, notes when each arrived, and keeps
// a sample for PSNR.
type frameSink struct {
	spec clipSpec
	clip *loadedClip

	mu       sync.Mutex
	capture  map[int]time.Time // clip frame -> instant it went into the sender
	arrivals []time.Time
	latency  []time.Duration
	kept     map[int][]byte // clip frame -> received picture
	unknown  int            // frames whose stamp did not read
	last     time.Time
}

func newFrameSink(spec clipSpec, clip *loadedClip) *frameSink {
	return &frameSink{spec: spec, clip: clip, capture: map[int]time.Time{}, kept: map[int][]byte{}}
}

func (s *frameSink) captured(i int, t time.Time) {
	s.mu.Lock()
	s.capture[i] = t
	s.mu.Unlock()
}

func (s *frameSink) read(r io.Reader) {
	fb := frameBytes(s.spec.W, s.spec.H)
	buf := make([]byte, fb)
	every := max(1, s.spec.Frames/psnrSamples)
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			// A partial last frame (receiver interrupted mid-write) is not a frame.
			_, _ = io.Copy(io.Discard, r)
			return
		}
		now := time.Now()
		idx, ok := readStamp(fromPlanes(buf, s.spec.W, s.spec.H))
		s.mu.Lock()
		s.arrivals = append(s.arrivals, now)
		s.last = now
		if ok && int(idx) < s.spec.Frames {
			if t, seen := s.capture[int(idx)]; seen {
				s.latency = append(s.latency, now.Sub(t))
			}
			if _, dup := s.kept[int(idx)]; !dup && int(idx)%every == 0 {
				s.kept[int(idx)] = slices.Clone(buf)
			}
		} else {
			s.unknown++
		}
		s.mu.Unlock()
	}
}

func (s *frameSink) frames() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

// waitQuiet returns once no frame has arrived for quiet.
func (s *frameSink) waitQuiet(ctx context.Context, quiet time.Duration) {
	begin := time.Now()
	for ctx.Err() == nil {
		s.mu.Lock()
		last := s.last
		s.mu.Unlock()
		if last.Before(begin) {
			last = begin
		}
		if time.Since(last) >= quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *frameSink) summarise(res *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res.Delivered = len(s.arrivals)
	if n := len(s.arrivals); n > 1 {
		if d := s.arrivals[n-1].Sub(s.arrivals[0]).Seconds(); d > 0 {
			res.FPS = float64(n-1) / d
		}
	}
	if len(s.latency) > 0 {
		slices.Sort(s.latency)
		res.LatencyP50 = ms(percentile(s.latency, 50))
		res.LatencyP99 = ms(percentile(s.latency, 99))
	}
	if s.unknown > 0 {
		res.Note = append(res.Note, fmt.Sprintf("%d received frames too damaged to identify", s.unknown))
	}
	var sum float64
	for idx, got := range s.kept {
		p := psnrI420(got, s.clip.frame(idx), s.spec.W, s.spec.H)
		sum += p
	}
	if len(s.kept) > 0 {
		res.PSNR = sum / float64(len(s.kept))
		res.PSNRFrames = len(s.kept)
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// gstreamer is GStreamer's RTP/JPEG pipeline (libjpeg-turbo's jpegenc and jpegdec),
// with the same quality number as hrvs: both scale the ITU T.81 Annex K tables the
// IJG way.
var gstreamer = &peer{
	name:  "gstreamer",
	ready: 500 * time.Millisecond,
	argv: func(r *run) (recv, send []string, err error) {
		w, h := r.clip.spec.W, r.clip.spec.H
		recv = []string{"gst-launch-1.0", "-q",
			"udpsrc", fmt.Sprintf("port=%d", r.port), "address=127.0.0.1", "buffer-size=8388608",
			"caps=application/x-rtp,media=video,encoding-name=JPEG,payload=26,clock-rate=90000",
			"!", "rtpjpegdepay", "!", "jpegdec", "!", "videoconvert", "!", "video/x-raw,format=I420",
			"!", "fdsink", "fd=1", "sync=false"}
		rate := "0/1"
		if r.rate > 0 {
			rate = fmt.Sprintf("%d/1", int(r.rate))
		}
		send = []string{"gst-launch-1.0", "-q",
			"fdsrc", "fd=0", fmt.Sprintf("blocksize=%d", frameBytes(w, h)),
			"!", "rawvideoparse", fmt.Sprintf("width=%d", w), fmt.Sprintf("height=%d", h), "format=i420", "framerate=" + rate,
			"!", "jpegenc", fmt.Sprintf("quality=%d", r.quality),
			"!", "rtpjpegpay", "mtu=1400",
			"!", "udpsink", "host=127.0.0.1", fmt.Sprintf("port=%d", r.port), "sync=false", "buffer-size=8388608"}
		return recv, send, nil
	},
}

// ffmpeg is ffmpeg's RTP/MJPEG: its own MJPEG encoder (quality set by -q:v, matched
// to the JPEG quality by calibrate) and decoder. Samples are declared full range
// (yuvj420p) at both ends so no range conversion touches them.
var ffmpeg = &peer{
	name:  "ffmpeg",
	ready: 500 * time.Millisecond,
	argv: func(r *run) (recv, send []string, err error) {
		w, h := r.clip.spec.W, r.clip.spec.H
		sdp := filepath.Join(r.dir, "ffmpeg.sdp")
		// The receiver opens the stream from a session description written here, so
		// it need not wait for the sender to write one.
		body := fmt.Sprintf("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=hrvs bench\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video %d RTP/AVP 26\r\n", r.port)
		if err := os.WriteFile(sdp, []byte(body), 0o644); err != nil {
			return nil, nil, fmt.Errorf("ffmpeg sdp: %w", err)
		}
		recv = []string{"ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
			"-protocol_whitelist", "file,udp,rtp", "-buffer_size", "8388608", "-analyzeduration", "0", "-probesize", "32",
			"-fflags", "nobuffer", "-flags", "low_delay", "-max_delay", "0", "-reorder_queue_size", "0", "-threads", "1", "-i", sdp,
			"-fps_mode", "passthrough",
			"-f", "rawvideo", "-pix_fmt", "yuvj420p", "pipe:1"}
		rate := r.rate
		if rate <= 0 {
			rate = 1000 // only stamps the timeline; the pipe sets the pace
		}
		send = []string{"ffmpeg", "-hide_banner", "-loglevel", "error",
			"-f", "rawvideo", "-pix_fmt", "yuvj420p", "-s", fmt.Sprintf("%dx%d", w, h), "-r", fmt.Sprint(rate), "-i", "pipe:0",
			"-threads", "1", "-c:v", "mjpeg", "-q:v", fmt.Sprint(r.ffQ), "-huffman", "default", "-flush_packets", "1",
			"-f", "rtp", fmt.Sprintf("rtp://127.0.0.1:%d?pkt_size=1400&buffer_size=8388608", r.port)}
		return recv, send, nil
	},
}
