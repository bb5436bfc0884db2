package sender

import (
	"image"
	"io"
	"sync/atomic"
	"testing"

	"github.com/hrvs/hrvs/net/tile"
	"github.com/hrvs/hrvs/net/wire"
)

func TestScanFormatAsksTheEncoder(t *testing.T) {
	cases := []struct {
		name    string
		enc     tile.Encoder
		sub     image.YCbCrSubsampleRatio
		want    uint8
		wantErr bool
	}{
		{"image/jpeg turns 4:2:2 into 4:2:0", &tile.StdEncoder{}, image.YCbCrSubsampleRatio422, wire.Sub420, false},
		{"the fast encoder keeps 4:2:2", &tile.FastEncoder{}, image.YCbCrSubsampleRatio422, wire.Sub422, false},
		{"the fast encoder keeps 4:2:0", &tile.FastEncoder{}, image.YCbCrSubsampleRatio420, wire.Sub420, false},
		{"4:4:4 cannot be sent", &tile.FastEncoder{}, image.YCbCrSubsampleRatio444, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := scanFormat(c.enc, textured(64, 48, c.sub))
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want one: %v", err, c.wantErr)
			}
			if !c.wantErr && got != wire.CodecJPEGScan<<4|c.want {
				t.Fatalf("format %#x, want %#x", got, wire.CodecJPEGScan<<4|c.want)
			}
		})
	}
}

// The pool runs every queued job, signals idle when told the frame is done, and
// its workers end on stop.
func TestEncoderPoolRunsEveryJobAndStops(t *testing.T) {
	e := newEncoders()
	var ran, encoders atomic.Int32
	p := &packer{conns: []io.Writer{io.Discard}, pace: &pacer{}, mtu: 100, count: &counters{}}
	e.start(3, func() tile.Encoder { encoders.Add(1); return &tile.FastEncoder{} }, p.newOutbox, func(w *worker, j tileJob) {
		if w.out == nil || w.out.p != p || w.enc == nil {
			t.Errorf("worker without its encoder or its outbox")
		}
		ran.Add(1)
	})
	jobs := make([]tileJob, 50)
	e.submit(jobs)
	if !e.busy.Load() {
		t.Fatal("a submitted frame is not busy")
	}
	e.done()
	select {
	case <-e.idle:
	default:
		t.Fatal("done did not signal idle")
	}
	e.stop() // returns once the workers have run the queue and ended
	if ran.Load() != 50 || encoders.Load() != 3 {
		t.Fatalf("%d jobs run by %d encoders, want 50 by 3", ran.Load(), encoders.Load())
	}
}
