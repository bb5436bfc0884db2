package receiver

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the receiver's counters; field names are the --stats-json contract.
type Stats struct {
	FramesReceived     uint64 `json:"frames_received"`
	FramesComplete     uint64 `json:"frames_complete"`
	FramesPartial      uint64 `json:"frames_partial"`
	FramesDisplayed    uint64 `json:"frames_displayed"`
	TilesReceived      uint64 `json:"tiles_received"`
	TilesMissing       uint64 `json:"tiles_missing"`
	DatagramsReceived  uint64 `json:"datagrams_received"`
	DatagramsInvalid   uint64 `json:"datagrams_invalid"`
	DatagramsLate      uint64 `json:"datagrams_late"`
	DatagramsDuplicate uint64 `json:"datagrams_duplicate"` // repeats, and parity that was not needed
	DatagramsOverflow  uint64 `json:"datagrams_overflow"`
	// DatagramsDroppedSocket counts datagrams the kernel dropped in the receiver's
	// sockets' buffers (SO_RXQ_OVFL, Linux), the receiver not reading fast enough;
	// DropsCounted says the kernel counts them (false: unknown, not zero).
	DatagramsDroppedSocket uint64 `json:"datagrams_dropped_socket"`
	DropsCounted           bool   `json:"datagrams_dropped_socket_counted"`
	// DatagramsDroppedHere is what this receiver dropped itself, not the path:
	// its sockets' drops plus its overflows. The sender hears it (docs/PROTOCOL.md
	// §5.4) and does not read it as path loss.
	DatagramsDroppedHere uint64 `json:"datagrams_dropped_here"`
	DatagramsLost        uint64 `json:"datagrams_lost"`
	DatagramsRecovered   uint64 `json:"datagrams_recovered"` // rebuilt from parity (FEC)
	DecodeErrors         uint64 `json:"decode_errors"`
	// TablesMissing counts whole tiles concealed because the table set they name
	// never came (docs/PROTOCOL.md §4.1).
	TablesMissing uint64 `json:"tables_missing"`
	BytesReceived uint64 `json:"bytes_received"`
	Streams       uint64 `json:"streams"`
	AcksDropped   uint64 `json:"acks_dropped"`
	// Datagrams refused before assembly: failed authentication (or, keyed, no key for
	// their stream; unkeyed, sealed), replayed, of another stream while the current one
	// is live, outside the frame-number window, or of frames captured too long ago.
	DatagramsUnauthenticated uint64 `json:"datagrams_unauthenticated"`
	DatagramsReplayed        uint64 `json:"datagrams_replayed"`
	DatagramsOtherStream     uint64 `json:"datagrams_other_stream"`
	DatagramsOutOfWindow     uint64 `json:"datagrams_out_of_window"`
	DatagramsStale           uint64 `json:"datagrams_stale"`
	Keyed                    bool   `json:"keyed"`
	// ControlRefused counts control connections closed unserved: no hello in time, junk,
	// a key that did not verify, too many (net/control.Server.Rejected).
	ControlRefused uint64  `json:"control_connections_refused"`
	FPS            float64 `json:"fps"`
	Mbps           float64 `json:"mbit_per_s"`
	LatencyP50     float64 `json:"latency_ms_p50"`
	LatencyP99     float64 `json:"latency_ms_p99"`
	ClockOffsetMs  float64 `json:"clock_offset_ms"`
	ClockSynced    bool    `json:"clock_synced"`
	Seconds        float64 `json:"seconds"`
	Width          int     `json:"width"`
	Height         int     `json:"height"`
	Quality        int     `json:"quality"` // JPEG quality 1..100 of codec-0 frames; 0 for codecs 1 and 2
	Codec          int     `json:"codec"`   // the newest frame's codec (docs/PROTOCOL.md §3.1): 0 JPEG quality tables, 1 the sender's table set, 2 the same with restart intervals
	Sender         string  `json:"sender"`
}

// readCounters are the socket readers' figures: only the readers write them.
type readCounters struct {
	dgrams, invalid, bytes, overflow atomic.Uint64
	unauthenticated, replayed        atomic.Uint64 // keyed: failed authentication, or seen before
	otherStream                      atomic.Uint64 // another stream's, while the current one is live
	socketDrops                      atomic.Uint64 // the kernel's drops in the sockets' buffers, summed
	dropsKnown                       atomic.Bool   // a socket's kernel counts its drops
}

// droppedHere is the count of datagrams the receiver dropped itself: its sockets'
// drops and its overflows (docs/PROTOCOL.md §5.4).
func (r *Receiver) droppedHere() uint64 {
	return r.c.socketDrops.Load() + r.c.overflow.Load() + r.asm.c.overflow.Load()
}

// assemblerCounters are the assembler's figures: only its goroutine writes them,
// and anyone may read them at any time without a lock, so a stats request never
// holds up assembly.
type assemblerCounters struct {
	frames, complete, partial    atomic.Uint64
	tilesGot, tilesMissing       atomic.Uint64
	invalid, late, dup, overflow atomic.Uint64
	outside, stale, otherStream  atomic.Uint64
	lost, recovered, decErr      atomic.Uint64
	tablesMissing                atomic.Uint64 // whole tiles whose table set never came
	streams                      atomic.Uint64
	firstNs, lastNs              atomic.Int64           // when the first and the newest frame were released, Unix ns
	shape                        atomic.Uint64          // the newest frame's width<<32 | height<<16 | quality
	sender                       atomic.Pointer[string] // the current stream's sender, host:port
	latency                      latencyHist            // capture to frame ready, every frame released
}

// Stats returns a snapshot of the counters. It takes no lock the assembler uses.
func (r *Receiver) Stats() Stats {
	c := &r.asm.c
	off, synced := r.ctl.Offset()
	s := Stats{
		FramesReceived: c.frames.Load(), FramesComplete: c.complete.Load(), FramesPartial: c.partial.Load(),
		FramesDisplayed: r.displayed.Load(),
		TilesReceived:   c.tilesGot.Load(), TilesMissing: c.tilesMissing.Load(),
		DatagramsReceived: r.c.dgrams.Load(), DatagramsInvalid: r.c.invalid.Load() + c.invalid.Load(),
		DatagramsLate: c.late.Load(), DatagramsDuplicate: c.dup.Load(),
		DatagramsOverflow:      r.c.overflow.Load() + c.overflow.Load(),
		DatagramsDroppedSocket: r.c.socketDrops.Load(), DropsCounted: r.c.dropsKnown.Load(), DatagramsDroppedHere: r.droppedHere(),
		DatagramsLost: c.lost.Load(), DatagramsRecovered: c.recovered.Load(),
		DecodeErrors: c.decErr.Load(), TablesMissing: c.tablesMissing.Load(), BytesReceived: r.c.bytes.Load(), Streams: c.streams.Load(),
		AcksDropped:              r.ctl.AcksDropped(),
		DatagramsUnauthenticated: r.c.unauthenticated.Load(), DatagramsReplayed: r.c.replayed.Load(),
		DatagramsOtherStream: r.c.otherStream.Load() + c.otherStream.Load(), DatagramsOutOfWindow: c.outside.Load(),
		DatagramsStale: c.stale.Load(), Keyed: r.cfg.Key != nil, ControlRefused: r.ctl.Rejected(),
		ClockOffsetMs: float64(off) / float64(time.Millisecond), ClockSynced: synced,
	}
	var lat latencyCounts
	c.latency.load(&lat)
	s.LatencyP50, s.LatencyP99 = lat.percentile(50), lat.percentile(99)
	shape := c.shape.Load()
	s.Width, s.Height, s.Quality = int(shape>>32&0xffff), int(shape>>16&0xffff), int(shape&0xffff)
	if s.Codec = int(shape >> 48); s.Codec != 0 {
		s.Quality = 0 // a table set id, not a quality
	}
	if p := c.sender.Load(); p != nil {
		s.Sender = *p
	}
	if d := time.Duration(c.lastNs.Load() - c.firstNs.Load()).Seconds(); d > 0 && s.FramesReceived > 1 {
		s.Seconds = d
		s.FPS = float64(s.FramesReceived-1) / d
		s.Mbps = float64(s.BytesReceived) * 8 / d / 1e6
	}
	return s
}

// LiveLatency returns the median latency in ms of the frames released since the
// previous call, for the live status line.
func (r *Receiver) LiveLatency() float64 {
	var now latencyCounts
	r.asm.c.latency.load(&now)
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	since := now
	since.sub(&r.liveLast)
	r.liveLast = now
	return since.percentile(50)
}

// latencyHist counts durations in buckets that are 100 µs wide up to 25.6 ms and
// then 1/128 of their value (an HDR histogram's layout), up to 10 s: 1408 counters,
// so a snapshot is an 11 KB copy and a percentile a short scan, where 100 µs buckets
// all the way would be 400 KB. Below 25.6 ms percentiles are exact to 0.1 ms, above
// it to under 0.8%. Add is one atomic increment; readers need no lock.
type latencyHist struct {
	b [histBuckets]atomic.Uint64
}

const (
	histUnit    = 100 * time.Microsecond
	histSub     = 128         // buckets per doubling above the linear part
	histLinear  = 2 * histSub // values below this (in units) have a bucket each
	histMax     = 100000      // 10 s in units: longer samples count as 10 s
	histLevels  = 9           // doublings from histLinear up to past histMax
	histBuckets = histLinear + histLevels*histSub
)

// latencyCounts is a copy of a latencyHist's counters.
type latencyCounts [histBuckets]uint64

// histIndex is the bucket of a duration of v units.
func histIndex(v int64) int {
	if v < histLinear {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 8 // v>>e is in [histSub, 2*histSub)
	return histLinear + (e-1)*histSub + int(v>>e) - histSub
}

// histUpper is the upper edge of bucket i, in units.
func histUpper(i int) int64 {
	if i < histLinear {
		return int64(i) + 1
	}
	e := (i-histLinear)/histSub + 1
	return int64((i-histLinear)%histSub+histSub+1) << e
}

// add records one sample; negative samples (clock offset error) count as zero.
func (l *latencyHist) add(d time.Duration) {
	v := min(int64(max(d, 0)/histUnit), histMax)
	l.b[histIndex(v)].Add(1)
}

func (l *latencyHist) load(dst *latencyCounts) {
	for i := range l.b {
		dst[i] = l.b[i].Load()
	}
}

// sub subtracts an earlier copy of the same histogram.
func (c *latencyCounts) sub(earlier *latencyCounts) {
	for i := range c {
		c[i] -= earlier[i]
	}
}

// percentile returns the p-th percentile (0..100) in milliseconds, 0 with no
// samples: the upper edge of the bucket holding the sample of that rank.
func (c *latencyCounts) percentile(p float64) float64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	if n == 0 {
		return 0
	}
	rank := min(uint64(p/100*float64(n)), n-1)
	var seen uint64
	for i, v := range c {
		seen += v
		if seen > rank {
			return float64(time.Duration(histUpper(i))*histUnit) / float64(time.Millisecond)
		}
	}
	return float64(time.Duration(histUpper(histBuckets-1))*histUnit) / float64(time.Millisecond)
}
