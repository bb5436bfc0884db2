package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// Options says how to open a source. Zero values mean "the source's own": a
// file's size and rate, a camera's defaults (1280x720, 30 fps, auto format), the
// pattern's 1280x720 at 30 fps.
type Options struct {
	Width, Height int
	// FPS overrides the rate: a file plays at it instead of its own, a camera is
	// asked for it. Negative means as fast as possible (benchmarks; files and the
	// pattern only).
	FPS float64
	// Format is the camera pixel format: "auto", "mjpeg" or "yuyv".
	Format string
	// Controls are camera controls to set at open and after every reconnect,
	// "name=value[,name=value]" with v4l2-ctl's names (hrvs devices lists them).
	Controls string
	// Loop restarts a file at its end.
	Loop bool
	// JPEG hands MJPEG sources' frames through compressed (Frame.JPEG), decoded
	// only if the caller asks (Frame.Decode): MJPEG files, MJPEG in other containers
	// (ffmpeg copies the frames out without decoding them) and MJPEG cameras whose
	// frames are JFIF's colour already. Other sources ignore it.
	JPEG bool
	// Log receives warnings (skipped frames, a lost camera); nil discards them.
	Log *slog.Logger
}

func (o Options) logger() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

// Pattern defaults when Options leaves them zero.
const (
	patternDefaultWidth  = 1280
	patternDefaultHeight = 720
	patternDefaultFPS    = 30
)

// Open opens the source name: "pattern" for the built-in test pattern,
// /dev/video* for a V4L2 camera, anything else as a video file. Files are told
// apart by content: YUV4MPEG2 and MJPEG (concatenated JPEG) are decoded here, any
// other format by ffmpeg. Errors are one-line reasons fit to show a user.
func Open(ctx context.Context, name string, o Options) (Source, error) {
	if o.Controls != "" && !isCameraPath(name) {
		o.logger().Warn("--ctrl applies to cameras; ignored", "source", name)
	}
	switch {
	case name == "pattern":
		w, h, fps := o.Width, o.Height, o.FPS
		if w <= 0 || h <= 0 {
			w, h = patternDefaultWidth, patternDefaultHeight
		}
		switch {
		case fps == 0:
			fps = patternDefaultFPS
		case fps < 0:
			fps = 0
		}
		return NewPattern(w, h, fps)
	case isCameraPath(name):
		req, err := o.camRequest()
		if err != nil {
			return nil, err
		}
		cam, err := openCamera(ctx, name, req, openV4L2, o.logger())
		if err != nil {
			return nil, err
		}
		if o.JPEG {
			cam.handThrough()
		}
		return cam, nil
	}
	return openFile(name, o)
}

// isCameraPath reports names that are V4L2 video nodes, like /dev/video0 or a
// /dev/v4l/by-id link.
func isCameraPath(name string) bool {
	return strings.HasPrefix(name, "/dev/video") || strings.HasPrefix(name, "/dev/v4l/")
}

// openFile opens a video file, picking the decoder by the file's first bytes.
func openFile(name string, o Options) (Source, error) {
	f, err := os.Open(name)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: file not found", name)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%s: permission denied", name)
		}
		return nil, err
	}
	src, err := openOpened(f, o)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return src, nil
}

func openOpened(f *os.File, o Options) (Source, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("is a directory, not a video file")
	}
	var head [16]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("the file is empty")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if o.Width > 0 || o.Height > 0 {
		o.logger().Warn("--size applies to cameras and the pattern; a file plays at its own size", "file", f.Name())
	}
	switch kind := sniff(head[:n]); kind {
	case "y4m":
		src, err := openY4M(f, o)
		if errors.Is(err, errY4MUnsupported) {
			f.Close()
			o.logger().Info("handing the file to ffmpeg", "file", f.Name(), "reason", err)
			return openFFmpeg(f.Name(), o)
		}
		return src, err
	case "mjpeg":
		return openMJPEG(f, o)
	default:
		f.Close()
		return openFFmpeg(f.Name(), o)
	}
}

// sniff names the decoder for a file from its first bytes: "y4m", "mjpeg", or ""
// for ffmpeg. Content decides, not the name: a .y4m that is not YUV4MPEG2 inside
// goes to ffmpeg, which can say what it is.
func sniff(head []byte) string {
	switch {
	case strings.HasPrefix(string(head), y4mMagic):
		return "y4m"
	case len(head) >= 3 && head[0] == markerPrefix && head[1] == markerSOI && head[2] == markerPrefix:
		return "mjpeg"
	}
	return ""
}
