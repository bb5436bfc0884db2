//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// V4L2 ioctls and layouts as in linux/videodev2.h for x86-64 (the guest is always
// Debian's amd64 kernel): _IOWR('V', nr, size).
const (
	vidiocGFmt      = 0xc0d05604 // struct v4l2_format, 208 bytes
	vidiocSFmt      = 0xc0d05605
	vidiocGCtrl     = 0xc008561b // struct v4l2_control
	vidiocSCtrl     = 0xc008561c
	vidiocQueryCtrl = 0xc0445624 // struct v4l2_queryctrl, 68 bytes
	vidiocQueryMenu = 0xc02c5625 // struct v4l2_querymenu, 44 bytes (packed)
	vidiocSInput    = 0xc0045627 // int

	ctrlFlagNextCtrl = 0x80000000
	ctrlFlagDisabled = 0x0001
	ctrlTypeMenu     = 3
	bufTypeOutput    = 2
	fieldNone        = 1
)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// queryCtrl mirrors struct v4l2_queryctrl.
type queryCtrl struct {
	ID, Type                       uint32
	Name                           [32]byte
	Min, Max, Step, Default, Flags int32
	Reserved                       [2]uint32
}

// ctrlName is v4l2-ctl's name for a control: lower case, runs of other characters
// turned into one underscore ("Y'CbCr Encoding" is y_cbcr_encoding).
func ctrlName(name string) string {
	var b strings.Builder
	under := false
	for _, r := range name {
		isAlnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !isAlnum {
			under = b.Len() > 0
			continue
		}
		if under {
			b.WriteByte('_')
			under = false
		}
		b.WriteString(strings.ToLower(string(r)))
	}
	return b.String()
}

// ctrlCmd sets controls: agent ctrl /dev/video0 disconnect=1 quantization=full_range.
func ctrlCmd(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: ctrl DEV NAME=VALUE...")
	}
	fd, err := unix.Open(args[0], unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ctrls := map[string]queryCtrl{}
	for id := uint32(ctrlFlagNextCtrl); ; {
		q := queryCtrl{ID: id}
		if ioctl(fd, vidiocQueryCtrl, unsafe.Pointer(&q)) != nil {
			break
		}
		ctrls[ctrlName(string(bytes.TrimRight(q.Name[:], "\x00")))] = q
		id = q.ID | ctrlFlagNextCtrl
	}
	for _, kv := range args[1:] {
		name, val, ok := strings.Cut(kv, "=")
		q, found := ctrls[name]
		if !ok || !found {
			return fmt.Errorf("%s: no such control", kv)
		}
		v, err := strconv.Atoi(val)
		if err != nil && q.Type == ctrlTypeMenu {
			v, err = menuIndex(fd, q, val)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", kv, err)
		}
		c := [2]uint32{q.ID, uint32(int32(v))}
		if err := ioctl(fd, vidiocSCtrl, unsafe.Pointer(&c)); err != nil {
			return fmt.Errorf("set %s: %w", kv, err)
		}
	}
	return nil
}

func menuIndex(fd int, q queryCtrl, want string) (int, error) {
	var names []string
	for i := q.Min; i <= q.Max; i++ {
		var m [44]byte
		binary.LittleEndian.PutUint32(m[0:], q.ID)
		binary.LittleEndian.PutUint32(m[4:], uint32(i))
		if ioctl(fd, vidiocQueryMenu, unsafe.Pointer(&m)) != nil {
			continue
		}
		n := ctrlName(string(bytes.TrimRight(m[8:40], "\x00")))
		if n == want {
			return int(i), nil
		}
		names = append(names, n)
	}
	return 0, fmt.Errorf("no menu item %q (have %s)", want, strings.Join(names, ", "))
}

// inputCmd selects a video input: agent input /dev/video0 3 (vivid's HDMI input).
func inputCmd(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: input DEV N")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	fd, err := unix.Open(args[0], unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	in := int32(n)
	return ioctl(fd, vidiocSInput, unsafe.Pointer(&in))
}

// feedCmd writes JPEG colour bars into a v4l2loopback output node at a steady rate
// until killed: agent feed [-corrupt N] [-no-dht] /dev/video10 640x480 15. With
// -corrupt every Nth frame is cut short; with -no-dht the frames leave out their
// Huffman tables, as most UVC cameras' MJPEG does.
func feedCmd(args []string) error {
	fs := flag.NewFlagSet("feed", flag.ContinueOnError)
	corruptEvery := fs.Int("corrupt", 0, "cut every Nth frame short")
	noDHT := fs.Bool("no-dht", false, "leave out the Huffman tables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	args = fs.Args()
	if len(args) != 3 {
		return fmt.Errorf("usage: feed [-corrupt N] [-no-dht] DEV WxH FPS")
	}
	var w, h int
	if _, err := fmt.Sscanf(args[1], "%dx%d", &w, &h); err != nil {
		return fmt.Errorf("size %q: %w", args[1], err)
	}
	fps, err := strconv.ParseFloat(args[2], 64)
	if err != nil || fps <= 0 {
		return fmt.Errorf("rate %q: want a positive number", args[2])
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Bars(w, h), &jpeg.Options{Quality: 95}); err != nil {
		return err
	}
	frame := buf.Bytes()
	if *noDHT {
		// image/jpeg writes the standard tables of ITU T.81 Annex K, the ones a
		// decoder assumes when a frame has none (the MJPEG convention).
		frame = withoutDHT(frame)
	}
	fd, err := unix.Open(args[0], unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// struct v4l2_format: type, then the union at offset 8 (it holds pointers);
	// v4l2_pix_format: width, height, pixelformat, field, bytesperline, sizeimage.
	var f [208]byte
	le := binary.LittleEndian
	le.PutUint32(f[0:], bufTypeOutput)
	le.PutUint32(f[8:], uint32(w))
	le.PutUint32(f[12:], uint32(h))
	le.PutUint32(f[16:], 'M'|'J'<<8|'P'<<16|'G'<<24)
	le.PutUint32(f[20:], fieldNone)
	le.PutUint32(f[28:], uint32(w*h*2)) // room for any JPEG of the frame
	// The loopback can refuse the format for a moment after the last producer
	// or reader closed: try for a few seconds.
	want := f
	err = ioctl(fd, vidiocSFmt, unsafe.Pointer(&f))
	for deadline := time.Now().Add(5 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		f = want
		err = ioctl(fd, vidiocSFmt, unsafe.Pointer(&f))
	}
	if err != nil {
		// v4l2loopback keeps the format of an earlier producer and refuses to
		// change it (EINVAL): carry on if it is the one wanted.
		var g [208]byte
		le.PutUint32(g[0:], bufTypeOutput)
		if gerr := ioctl(fd, vidiocGFmt, unsafe.Pointer(&g)); gerr != nil || le.Uint32(g[8:]) != uint32(w) ||
			le.Uint32(g[12:]) != uint32(h) || le.Uint32(g[16:]) != le.Uint32(f[16:]) {
			return fmt.Errorf("set the output format: %w", err)
		}
		f = g
	}
	// v4l2loopback takes each write() as one frame, its length as bytesused.
	tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
	defer tick.Stop()
	// A corrupt frame is the JPEG cut in the middle of its entropy-coded data,
	// as a USB camera delivers when it loses packets.
	corrupt := frame[:len(frame)/2]
	for n := 1; ; n++ {
		if n == 2 {
			fmt.Println("feeding") // the loopback is a capture node now
		}
		<-tick.C
		out := frame
		if *corruptEvery > 0 && n%*corruptEvery == 0 {
			out = corrupt
		}
		if _, err := unix.Write(fd, out); err != nil {
			return fmt.Errorf("write a frame: %w", err)
		}
	}
}

// withoutDHT drops the DHT (0xFFC4) marker segments of a JPEG; everything up to
// SOS is marker segments with a 2-byte length (ITU T.81 B.1.1.4).
func withoutDHT(j []byte) []byte {
	out := append([]byte(nil), j[:2]...) // SOI
	for i := 2; i+4 <= len(j); {
		marker := j[i+1]
		n := int(j[i+2])<<8 | int(j[i+3])
		if marker == 0xda { // SOS: the rest is scan data
			return append(out, j[i:]...)
		}
		if marker != 0xc4 {
			out = append(out, j[i:i+2+n]...)
		}
		i += 2 + n
	}
	return out
}

// Bars draws the 75% colour bars of EBU Tech 3325 / vivid's "75% Colorbar"
// (white, yellow, cyan, green, magenta, red, blue, black) as full-range BT.601
// Y'CbCr, the encoding JFIF uses.
func Bars(w, h int) *image.YCbCr {
	rgb := [8][3]float64{{191, 191, 191}, {191, 191, 0}, {0, 191, 191}, {0, 191, 0}, {191, 0, 191}, {191, 0, 0}, {0, 0, 191}, {0, 0, 0}}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
	for x := 0; x < w; x++ {
		c := rgb[x*8/w]
		y := 0.299*c[0] + 0.587*c[1] + 0.114*c[2]
		cb := 128 + (c[2]-y)/1.772
		cr := 128 + (c[0]-y)/1.402
		for row := 0; row < h; row++ {
			img.Y[row*img.YStride+x] = uint8(y + 0.5)
			img.Cb[row*img.CStride+x] = uint8(cb + 0.5)
			img.Cr[row*img.CStride+x] = uint8(cr + 0.5)
		}
	}
	return img
}
