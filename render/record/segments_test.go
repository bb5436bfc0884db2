package record

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrvs/hrvs/render/internal/testpic"
)

// logRecords is a slog.Handler that keeps every record for the test to read.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}

// find returns the message and attributes of each record at level whose message
// matches.
func (l *logRecords) find(level slog.Level, match func(string) bool) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.Level != level || !match(r.Message) {
			continue
		}
		m := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.Resolve().String()
			return true
		})
		out = append(out, m)
	}
	return out
}

// clip is a run of frames of one stream at one size, fed one after another.
type clip struct {
	stream uint32
	w, h   int
	n      int
}

// wantFile is what one file of the recording must hold, as ffprobe reads it.
type wantFile struct {
	name   string // base name in the test's directory
	stream uint32
	w, h   int
	frames int
}

// wantChange is one warning that the recording went on in a new file.
type wantChange struct {
	fromSize, toSize     string
	fromStream, toStream uint32
	file, previous       string // base names
}

func repeat(n int, clips ...clip) []clip {
	var out []clip
	for range n {
		out = append(out, clips...)
	}
	return out
}

func TestTheRecordingFollowsTheStreamThatIsPlaying(t *testing.T) {
	const fps = 25
	cases := []struct {
		name    string
		before  []string // files that exist before the recording starts
		clips   []clip
		files   []wantFile
		changes []wantChange
		leftOut uint64
	}{
		{
			name:    "a stray 16x16 frame before the stream leaves one file of the stream's 30 frames",
			clips:   []clip{{7, 16, 16, 1}, {9, 320, 240, 30}},
			files:   []wantFile{{"rec.avi", 9, 320, 240, 30}},
			leftOut: 1,
		},
		{
			name:    "a stray frame of another size in the middle of the recording is left out",
			clips:   []clip{{9, 320, 240, 10}, {9, 16, 16, 1}, {9, 320, 240, 10}},
			files:   []wantFile{{"rec.avi", 9, 320, 240, 20}},
			leftOut: 1,
		},
		{
			name:    "two frames of another size are fewer than Confirm and start no file",
			clips:   []clip{{9, 320, 240, 10}, {9, 640, 360, Confirm - 1}, {9, 320, 240, 5}},
			files:   []wantFile{{"rec.avi", 9, 320, 240, 15}},
			leftOut: Confirm - 1,
		},
		{
			name:    "another stream's frames interleaved with the recorded one never take the file",
			clips:   append([]clip{{9, 320, 240, 5}}, repeat(6, clip{7, 320, 240, 1}, clip{9, 320, 240, 1})...),
			files:   []wantFile{{"rec.avi", 9, 320, 240, 11}},
			leftOut: 6,
		},
		{
			name:  "a size change mid-recording goes on in a second file",
			clips: []clip{{9, 320, 240, 20}, {9, 640, 360, 12}},
			files: []wantFile{{"rec.avi", 9, 320, 240, 20}, {"rec-2.avi", 9, 640, 360, 12}},
			changes: []wantChange{
				{fromSize: "320x240", toSize: "640x360", fromStream: 9, toStream: 9, file: "rec-2.avi", previous: "rec.avi"},
			},
		},
		{
			name:  "a new stream of the same size goes on in a second file",
			clips: []clip{{9, 320, 240, 10}, {11, 320, 240, 8}},
			files: []wantFile{{"rec.avi", 9, 320, 240, 10}, {"rec-2.avi", 11, 320, 240, 8}},
			changes: []wantChange{
				{fromSize: "320x240", toSize: "320x240", fromStream: 9, toStream: 11, file: "rec-2.avi", previous: "rec.avi"},
			},
		},
		{
			name:   "an existing rec-2.avi is not overwritten: the segments take the next free names",
			before: []string{"rec-2.avi"},
			clips:  []clip{{9, 320, 240, 10}, {9, 640, 360, 5}, {12, 320, 240, 6}},
			files: []wantFile{
				{"rec.avi", 9, 320, 240, 10}, {"rec-3.avi", 9, 640, 360, 5}, {"rec-4.avi", 12, 320, 240, 6},
			},
			changes: []wantChange{
				{fromSize: "320x240", toSize: "640x360", fromStream: 9, toStream: 9, file: "rec-3.avi", previous: "rec.avi"},
				{fromSize: "640x360", toSize: "320x240", fromStream: 9, toStream: 12, file: "rec-4.avi", previous: "rec-3.avi"},
			},
		},
		{
			name:  "a stream shorter than Confirm frames is still recorded when it is all there is",
			clips: []clip{{9, 320, 240, Confirm - 1}},
			files: []wantFile{{"rec.avi", 9, 320, 240, Confirm - 1}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range c.before {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("not ours"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			logs := &logRecords{}
			r, err := Create(filepath.Join(dir, "rec.avi"), Options{Log: slog.New(logs)})
			if err != nil {
				t.Fatal(err)
			}
			// Each stream and size runs on its own capture clock, as two senders would,
			// so a stray frame leaves no gap in the recorded stream's times.
			total, clocks := 0, map[clip]int{}
			for _, cl := range c.clips {
				k := clip{stream: cl.stream, w: cl.w, h: cl.h}
				for range cl.n {
					f := testpic.Frame(cl.w, cl.h, image.YCbCrSubsampleRatio420, uint32(total))
					f.Stream = cl.stream
					f.Captured = t0.Add(time.Duration(clocks[k]) * time.Second / fps)
					clocks[k]++
					total++
					showAndWait(t, r, f)
				}
			}
			isChange := func(m string) bool { return strings.HasPrefix(m, "recording goes on in a new file") }
			// Each change is told as it happens, not when the recording ends.
			if got := len(logs.find(slog.LevelWarn, isChange)); got != len(c.changes) {
				t.Errorf("%d warnings of a new file before Close, want %d", got, len(c.changes))
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}

			var written int
			var wantSegs []Segment
			for _, f := range c.files {
				written += f.frames
				wantSegs = append(wantSegs, Segment{Path: filepath.Join(dir, f.name), Stream: f.stream,
					Size: image.Pt(f.w, f.h), Frames: uint64(f.frames)})
			}
			if got := r.Segments(); !slices.Equal(got, wantSegs) {
				t.Errorf("segments %+v, want %+v", got, wantSegs)
			}
			if r.Written() != uint64(written) || r.LeftOut() != c.leftOut || r.Skipped() != 0 {
				t.Errorf("written %d, left out %d, skipped %d; want %d, %d, 0", r.Written(), r.LeftOut(), r.Skipped(), written, c.leftOut)
			}
			if uint64(total) != r.Written()+r.LeftOut() {
				t.Errorf("%d frames fed, %d written and %d left out: frames went missing", total, r.Written(), r.LeftOut())
			}

			for _, f := range c.files {
				path := filepath.Join(dir, f.name)
				codec, w, h, n, rate := ffprobe(t, path)
				wantRate := fmt.Sprintf("%d/1", fps)
				if f.frames < 2 {
					wantRate = "30/1" // one frame spans no time: the default
				}
				if codec != "mjpeg" || w != f.w || h != f.h || n != f.frames || rate != wantRate {
					t.Errorf("%s: ffprobe reads %s %dx%d, %d frames at %s; want mjpeg %dx%d, %d frames at %s",
						f.name, codec, w, h, n, rate, f.w, f.h, f.frames, wantRate)
				}
				if got := decodeAll(t, path); got != f.frames {
					t.Errorf("%s: ffmpeg decoded %d frames, want %d", f.name, got, f.frames)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names, wantNames []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			for _, f := range c.files {
				wantNames = append(wantNames, f.name)
			}
			wantNames = append(wantNames, c.before...)
			slices.Sort(wantNames)
			if !slices.Equal(names, wantNames) {
				t.Errorf("files %q, want %q", names, wantNames)
			}
			for _, name := range c.before {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "not ours" {
					t.Errorf("%s was touched: now %q (%v)", name, b, err)
				}
			}

			changes := logs.find(slog.LevelWarn, isChange)
			if len(changes) != len(c.changes) {
				t.Fatalf("%d warnings of a new file, want %d: %v", len(changes), len(c.changes), changes)
			}
			for i, w := range c.changes {
				got := changes[i]
				want := map[string]string{
					"from_size": w.fromSize, "to_size": w.toSize,
					"from_stream": fmt.Sprint(w.fromStream), "to_stream": fmt.Sprint(w.toStream),
					"file": filepath.Join(dir, w.file), "previous_file": filepath.Join(dir, w.previous),
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("warning %d: %s = %q, want %q (%v)", i+1, k, got[k], v, got)
					}
				}
			}
			leftOutWarns := logs.find(slog.LevelWarn, func(m string) bool { return !isChange(m) })
			switch {
			case c.leftOut == 0 && len(leftOutWarns) != 0:
				t.Errorf("unexpected warnings %v", leftOutWarns)
			case c.leftOut > 0 && (len(leftOutWarns) != 1 || leftOutWarns[0]["left_out"] != fmt.Sprint(c.leftOut)):
				t.Errorf("warnings %v, want one with left_out=%d", leftOutWarns, c.leftOut)
			}

			closed := logs.find(slog.LevelInfo, func(m string) bool { return m == "recording closed" })
			if len(closed) != len(c.files) {
				t.Fatalf("%d \"recording closed\" records, want one per file (%d): %v", len(closed), len(c.files), closed)
			}
			for i, f := range c.files {
				if closed[i]["file"] != filepath.Join(dir, f.name) || closed[i]["frames"] != fmt.Sprint(f.frames) {
					t.Errorf("close record %d: %v, want file %s with %d frames", i+1, closed[i], f.name, f.frames)
				}
			}
		})
	}
}
