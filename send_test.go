package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hrvs/hrvs/capture"
	"github.com/hrvs/hrvs/internal/testrig"
	"github.com/hrvs/hrvs/net/sender"
)

// The MJPEG part of the status line says why frames were not cut at restart markers.
func TestTheMJPEGLineSaysWhatBecameOfTheFrames(t *testing.T) {
	for _, c := range []struct {
		name string
		st   sender.Stats
		want string
	}{
		{"re-tiled frames, one decoded", sender.Stats{MJPEG: sender.MJPEGRetile, FramesRetiled: 10, FramesFellBack: 1},
			"mjpeg retile: 10 re-tiled, 1 decoded (could not be re-tiled)"},
		{"split asked for, no frame has markers", sender.Stats{MJPEG: sender.MJPEGSplit, FramesRetiled: 119},
			"mjpeg split: 119 re-tiled (0 cut at restart markers, 0 with markers off the tile grid, 119 without markers), 0 decoded"},
		{"split, some misaligned", sender.Stats{MJPEG: sender.MJPEGSplit, FramesRetiled: 30, FramesSplit: 20, FramesSplitFellBack: 10},
			"(20 cut at restart markers, 10 with markers off the tile grid, 0 without markers)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := mjpegLine(c.st); !strings.Contains(got, c.want) {
				t.Fatalf("%q, want it to contain %q", got, c.want)
			}
		})
	}
}

// The sender's last line accounts for the whole run.
func TestTheSendersLastLineAccountsForTheRun(t *testing.T) {
	got := sendDone(sender.Stats{FramesCaptured: 150, FramesSent: 140, FramesDroppedBusy: 4, FramesDroppedAck: 5, FramesDroppedRate: 1,
		BytesSent: 5_000_000, Quality: 75}, 5e9)
	want := "send: done after 5.0 s: 150 frames captured, 140 sent (28.0 fps), 10 skipped (busy 4, window 5, rate 1), 5.0 MB (8.0 Mbit/s), quality 75"
	if got != want {
		t.Fatalf("%q\nwant %q", got, want)
	}
}

// Frames the receiver asked to skip and frames whose JPEG could not be read are in the
// last line too, so captured adds up to sent, skipped and unreadable.
func TestTheSendersLastLineCountsReceiverSkipsAndUnreadableFrames(t *testing.T) {
	got := sendDone(sender.Stats{FramesCaptured: 74, FramesSent: 70, FramesDroppedRate: 1, FramesSkippedReceiver: 2, FramesUnreadable: 1,
		BytesSent: 1_000_000, Quality: 75}, 28e8)
	want := "74 frames captured, 70 sent (25.0 fps), 3 skipped (busy 0, window 0, rate 1, receiver 2), 1 unreadable (a JPEG neither re-tiled nor decoded), 1.0 MB"
	if !strings.Contains(got, want) {
		t.Fatalf("%q\nwant it to contain %q", got, want)
	}
}

// untilLate takes frames from p (a 1000 fps pattern, faster than it is read) until
// it has counted a frame slot passed while the caller was busy.
func untilLate(t *testing.T, p capture.Source) {
	t.Helper()
	testrig.Eventually(t, testrig.Patience, func() error {
		f, err := p.Next(context.Background())
		if err != nil {
			return err
		}
		f.Release()
		if late, _ := sourceCounts(p); late == 0 {
			return fmt.Errorf("no late frame counted yet")
		}
		return nil
	})
}

// Frame slots a source let pass while the sender was busy are counted where the
// user sees them (the status line and --stats-json), not lost silently.
func TestLateSourceFramesAreCounted(t *testing.T) {
	p, err := capture.NewPattern(64, 64, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	untilLate(t, p)
}

// Frames a file or the pattern left out because their time passed while the sender was
// busy are in the last line too: a 150-frame file that sent 113 said "113 frames
// captured, 113 sent, 0 skipped" and nothing of the other 37.
func TestTheSendersLastLineSaysWhatTheSourceLeftOut(t *testing.T) {
	p, err := capture.NewPattern(64, 64, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := sourceLeftOut(p); got != "" {
		t.Fatalf("%q before any frame was left out, want nothing", got)
	}
	untilLate(t, p)
	late, _ := sourceCounts(p)
	if got, want := sourceLeftOut(p), fmt.Sprintf(", the source left out %d late", late); !strings.HasPrefix(got, want) {
		t.Fatalf("%q, want it to start %q", got, want)
	}
}
