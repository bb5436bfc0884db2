package sender

import (
	"sync/atomic"

	"github.com/hrvs/hrvs/net/stats"
)

// Stats is a snapshot of the sender's counters.
type Stats struct {
	FramesCaptured uint64 `json:"frames_captured"`
	FramesSent     uint64 `json:"frames_sent"`
	// FramesSkippedCPU counts frames of a live source skipped because the encoders
	// were still busy with the previous frame: the CPU's limit, which costs frame
	// rate and never quality. FramesDroppedBusy is the same count under its older
	// name, kept for readers of it.
	FramesSkippedCPU  uint64 `json:"frames_skipped_cpu"`
	FramesDroppedBusy uint64 `json:"frames_dropped_busy"`
	FramesDroppedAck  uint64 `json:"frames_dropped_window"` // live frames skipped while Window frames awaited acknowledgement
	// FramesDroppedRate counts live frames skipped for the path: the rate credit was
	// spent, or the encoders were still busy because the last frame spent longer in
	// the pacer than encoding.
	FramesDroppedRate uint64 `json:"frames_dropped_rate"`
	FramesAcked       uint64 `json:"frames_acked"`
	FramesAckedWhole  uint64 `json:"frames_acked_complete"`
	// FramesReceiverSlow counts whole frames whose reported arrival spread was too
	// long for the path the other acknowledgements show: time the receiver took
	// (decoding before it stamped the release), not the network's.
	FramesReceiverSlow uint64 `json:"frames_receiver_slow"`
	// FramesLateCPU counts acknowledgements whose one-way delay looked like a queue
	// while everything sent arrived at the rate it was sent: a CPU (the receiver's
	// or ours) stamping late, not a full path. They cut nothing.
	FramesLateCPU uint64 `json:"frames_late_cpu"`
	// DatagramsDroppedAtReceiver counts datagrams the receiver said it dropped
	// itself, its sockets' buffers or its queue full (docs/PROTOCOL.md §5.4);
	// LossAtReceiver those of them that explained losses the acknowledgements
	// showed, taken as the receiver's CPU and not the path: they cost frames
	// (FramesSkippedReceiver), never quality.
	DatagramsDroppedAtReceiver uint64 `json:"datagrams_dropped_at_receiver"`
	LossAtReceiver             uint64 `json:"loss_at_receiver"`
	FramesSkippedReceiver      uint64 `json:"frames_skipped_receiver"`
	// TargetCuts counts the decreases of the target rate by the path signal behind
	// them: queue, tail_drops, dispersion, loss, open_loop (docs/CONTROL.md §5).
	TargetCuts map[string]uint64 `json:"target_cuts"`
	// QualityCuts counts quality steps down; QualityCutReason is why the newest
	// one was taken: the path signal that held the target low, max_bitrate, or
	// start (the target had not yet grown to what the frames want). "" before any.
	QualityCuts      uint64  `json:"quality_cuts"`
	QualityCutReason string  `json:"quality_cut_reason"`
	TilesSent        uint64  `json:"tiles_sent"`
	TilesChanged     uint64  `json:"tiles_changed"`   // sent because the picture changed (or never sent before)
	TilesRepaired    uint64  `json:"tiles_repaired"`  // sent again because the receiver missed them
	TilesRefreshed   uint64  `json:"tiles_refreshed"` // sent by the rolling refresh
	TilesLost        uint64  `json:"tiles_lost"`      // reported missing, or in frames never acknowledged
	TilesDeferred    uint64  `json:"tiles_deferred"`  // left for a later frame so a frame crosses a slow path in frameSpan
	TileShare        float64 `json:"tile_share"`      // tiles sent / (frames sent x grid tiles): 1 is full frames
	DatagramsSent    uint64  `json:"datagrams_sent"`
	BytesSent        uint64  `json:"bytes_sent"`
	SendErrors       uint64  `json:"send_errors"`
	EncodeErrors     uint64  `json:"encode_errors"`
	// FramesUnreadable counts frames lost because their JPEG could be neither
	// re-tiled nor decoded (corrupt, or cut short at the end of a file).
	FramesUnreadable uint64  `json:"frames_unreadable"`
	EncodeMsP50      float64 `json:"encode_ms_p50"`
	RTTMs            float64 `json:"rtt_ms"`
	ControlConnected bool    `json:"control_connected"`
	// Refusal is why the receiver refused the control link (a key mismatch, say); "" when
	// it did not.
	Refusal           string  `json:"refusal,omitempty"`
	Keyed             bool    `json:"keyed"`
	ControlReconnects uint64  `json:"control_reconnects"`
	OpenLoop          bool    `json:"open_loop"` // no usable acknowledgements: safe rate, no repair
	Quality           int     `json:"quality"`   // current quality chosen by rate control
	TargetMbps        float64 `json:"target_mbit_per_s"`
	ReceiveMbps       float64 `json:"receive_mbit_per_s"` // what the receiver reported getting
	QueueDelayMs      float64 `json:"queue_delay_ms"`     // one-way delay above the path's empty-queue minimum
	LossPct           float64 `json:"loss_pct"`           // smoothed datagram loss: payload bytes the receiver reported against those sent
	FECPct            float64 `json:"fec_pct"`            // parity datagrams per 100 data datagrams in the last protected frame, 0 when unprotected
	RefreshFactor     int     `json:"refresh_factor"`     // refresh period stretched this many times by rate control
	Stream            uint32  `json:"stream"`
	Width             int     `json:"width"`
	Height            int     `json:"height"`
	Tiles             int     `json:"tiles_per_frame"` // grid tiles
	// Receivers are a multicast group's receivers (group.go), nil for one receiver.
	Receivers []ReceiverStats `json:"receivers,omitempty"`
	// MJPEG is what frames a source hands through compressed become (Config.MJPEG:
	// retile, split or decode); FramesRetiled counts frames cut into tiles in the DCT
	// domain, FramesFellBack those that could not be (progressive, arithmetic,
	// another layout, corrupt) and were decoded and encoded instead.
	MJPEG          string `json:"mjpeg"`
	FramesRetiled  uint64 `json:"frames_retiled"`
	FramesFellBack uint64 `json:"frames_fell_back"`
	// FramesSplit counts the re-tiled frames cut at their restart markers without
	// Huffman decoding (codec 2, mjpeg.go's split rule); FramesSplitFellBack the
	// frames with restart markers that split was tried on and could not take
	// (an interval not lining up with the tiles, another layout), re-tiled from
	// coefficients instead.
	FramesSplit         uint64 `json:"frames_split"`
	FramesSplitFellBack uint64 `json:"frames_split_fell_back"`
}

// counters are the sender's running totals. Each stage adds to its own (the
// pipeline to the frame counts, the chooser to the tile kinds, the packer to the
// datagrams, the ledger to acknowledgements and losses) without taking the
// sender's lock; snapshot reads them all for Stats.
type counters struct {
	captured, sent, dropBusy, dropWindow, dropRate atomic.Uint64
	acked, ackedWhole, receiverSlow                atomic.Uint64
	tilesSent, changed, repaired, refreshed        atomic.Uint64
	lost, deferred                                 atomic.Uint64
	rxDropped, dropReceiver                        atomic.Uint64 // datagrams the receiver dropped itself; frames skipped for it
	datagrams, bytes, sendErrs, encErrs            atomic.Uint64
	unreadable                                     atomic.Uint64
	encodeTime                                     stats.Latency
}

// snapshot fills the counter fields of st.
func (c *counters) snapshot(st *Stats) {
	st.FramesCaptured, st.FramesSent = c.captured.Load(), c.sent.Load()
	st.FramesSkippedCPU = c.dropBusy.Load()
	st.FramesDroppedBusy, st.FramesDroppedAck, st.FramesDroppedRate = c.dropBusy.Load(), c.dropWindow.Load(), c.dropRate.Load()
	st.FramesAcked, st.FramesAckedWhole, st.FramesReceiverSlow = c.acked.Load(), c.ackedWhole.Load(), c.receiverSlow.Load()
	st.TilesSent, st.TilesChanged, st.TilesRepaired = c.tilesSent.Load(), c.changed.Load(), c.repaired.Load()
	st.TilesRefreshed, st.TilesLost, st.TilesDeferred = c.refreshed.Load(), c.lost.Load(), c.deferred.Load()
	st.DatagramsSent, st.BytesSent = c.datagrams.Load(), c.bytes.Load()
	st.SendErrors, st.EncodeErrors, st.FramesUnreadable = c.sendErrs.Load(), c.encErrs.Load(), c.unreadable.Load()
	st.EncodeMsP50 = c.encodeTime.Percentile(50)
	st.DatagramsDroppedAtReceiver, st.FramesSkippedReceiver = c.rxDropped.Load(), c.dropReceiver.Load()
}
