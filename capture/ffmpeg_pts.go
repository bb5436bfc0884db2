package capture

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Variable-rate files (phone recordings) cannot be paced at one rate: a file that
// goes from 10 to 50 fps would have its fast half decimated. ffmpeg therefore
// passes every frame through with its own timestamp (-vsync passthrough) and, as a
// second output of the same decoded frames, writes one framecrc line per frame to
// pipe 3: "#tb 0: num/den" once, then "stream, dts, pts, duration, size, crc" per
// frame, in the order the raw frames come on stdout. The second output encodes
// wrapped_avframe (a pointer-sized packet), so it costs no copy of the picture.
// framecrc is ffmpeg's own test format, stable since 2007 and present in every
// build; unlike ffprobe -show_entries frame=pts_time it needs no second decoding
// pass, and unlike the showinfo filter it does not mix timestamps into the error
// log that finish reads.

// frameTime is one frame's presentation time; ok is false when its framecrc line
// could not be read.
type frameTime struct {
	pts time.Duration
	ok  bool
}

// frameTimes reads the framecrc lines from the read end of pipe 3 in a goroutine
// of its own, which ends when ffmpeg closes the pipe (by exiting) or close is
// called; close waits for it.
type frameTimes struct {
	r        *os.File
	times    chan frameTime
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newFrameTimes(r *os.File) *frameTimes {
	ft := &frameTimes{r: r, times: make(chan frameTime, 64), stop: make(chan struct{}), done: make(chan struct{})}
	go ft.run()
	return ft
}

func (ft *frameTimes) run() {
	defer close(ft.done)
	defer close(ft.times)
	defer ft.r.Close()
	sc := bufio.NewScanner(ft.r)
	var tb timeBase
	for sc.Scan() {
		pts, isFrame, err := parseFrameCRCLine(sc.Text(), &tb)
		if !isFrame {
			continue
		}
		select {
		case ft.times <- frameTime{pts: pts, ok: err == nil}:
		case <-ft.stop:
			return
		}
	}
}

// next returns the time of the next frame; ok is false once ffmpeg has ended, or
// for a line that could not be read.
func (ft *frameTimes) next() (time.Duration, bool) {
	t, open := <-ft.times
	return t.pts, open && t.ok
}

// close stops the reader and waits for it; the process must have exited (or been
// killed) so the pipe is at its end.
func (ft *frameTimes) close() {
	ft.stopOnce.Do(func() { close(ft.stop) })
	<-ft.done
}

// timeBase is a framecrc stream's time base, num/den seconds per tick.
type timeBase struct{ num, den int64 }

// maxPTS bounds a presentation time: a week is longer than any file plays.
const maxPTS = 7 * 24 * time.Hour

// parseFrameCRCLine reads one framecrc line. A "#tb 0: num/den" line sets tb; other
// comment and blank lines are not frames. A frame line of stream 0 gives its pts
// in seconds through tb; isFrame is true for every line that stands for a frame,
// even one that cannot be read (err says why), so callers stay in step.
func parseFrameCRCLine(line string, tb *timeBase) (pts time.Duration, isFrame bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return 0, false, nil
	}
	if rest, ok := strings.CutPrefix(line, "#tb 0:"); ok {
		num, den, ok := strings.Cut(strings.TrimSpace(rest), "/")
		n, err1 := strconv.ParseInt(num, 10, 64)
		d, err2 := strconv.ParseInt(den, 10, 64)
		if !ok || err1 != nil || err2 != nil || n <= 0 || d <= 0 {
			return 0, false, fmt.Errorf("framecrc: bad time base %q", rest)
		}
		tb.num, tb.den = n, d
		return 0, false, nil
	}
	if line[0] == '#' {
		return 0, false, nil
	}
	fields := strings.Split(line, ",")
	if len(fields) < 3 || strings.TrimSpace(fields[0]) != "0" {
		return 0, false, nil // not a line of our one stream
	}
	if tb.den == 0 {
		return 0, true, fmt.Errorf("framecrc: a frame before the time base")
	}
	ticks, err := strconv.ParseInt(strings.TrimSpace(fields[2]), 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("framecrc: bad pts %q", fields[2])
	}
	secs := float64(ticks) * float64(tb.num) / float64(tb.den)
	if math.Abs(secs) > maxPTS.Seconds() {
		return 0, true, fmt.Errorf("framecrc: pts %d x %d/%d is beyond a week", ticks, tb.num, tb.den)
	}
	return time.Duration(math.Round(secs * float64(time.Second))), true, nil
}
