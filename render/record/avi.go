package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// The file is an AVI 1.0 file with the OpenDML (AVI 2.0) extensions that lift its size
// limit, one MJPEG video stream, laid out as ffmpeg, VLC and Windows expect:
//
//	RIFF 'AVI '                                  first segment, at most segmentLimit bytes
//	  LIST 'hdrl'
//	    'avih'  MainAVIHeader                    (AVI RIFF File Reference, "AVI Main Header")
//	    LIST 'strl'
//	      'strh'  AVIStreamHeader, 'vids' 'MJPG'
//	      'strf'  BITMAPINFOHEADER, biCompression 'MJPG'
//	      'indx'  AVISUPERINDEX: where each segment's 'ix00' is (OpenDML 1.02, 2.1)
//	    LIST 'odml'
//	      'dmlh'  total frames of all segments   (OpenDML 1.02, 2.3)
//	  LIST 'movi'
//	    '00dc' JPEG ... '00dc' JPEG
//	    'ix00'  AVISTDINDEX of this segment's frames (OpenDML 1.02, 2.2)
//	  'idx1'    AVI 1.0 index of the first segment's frames
//	RIFF 'AVIX'                                  later segments, when the first is full
//	  LIST 'movi'
//	    '00dc' ... 'ix00'
//
// Everything is little-endian; every chunk is padded to an even length.

const (
	avifHasIndex      = 0x10  // avih.dwFlags: the file has an idx1 index
	avifIsInterleaved = 0x100 // avih.dwFlags
	aviifKeyframe     = 0x10  // idx1 dwFlags: every JPEG is a key frame

	aviIndexOfIndexes = 0x00 // indx bIndexType
	aviIndexOfChunks  = 0x01 // ix00 bIndexType

	avihSize     = 56
	strhSize     = 56
	strfSize     = 40
	superEntries = 256 // segments the super index can name: 256 GiB at segmentLimit
	indxSize     = 24 + 16*superEntries
	dmlhSize     = 248
)

// segmentLimit is the size at which a RIFF segment is closed and the next begins; 1 GiB
// keeps the first segment readable by AVI 1.0 players. Tests lower it.
var segmentLimit int64 = 1 << 30

// field offsets in the header, from the start of the file.
type headerFields struct {
	riffSize, usPerFrame, maxBytesPerSec, totalFrames, avihBufSize int64
	scale, rate, length, strhBufSize                               int64
	indxInUse, indxEntries                                         int64
	dmlhFrames                                                     int64
	moviSize                                                       int64 // size field of the first LIST 'movi'
	moviFourCC                                                     int64 // offset of 'movi', the base of idx1 offsets
}

// aviWriter writes the chunks; it knows nothing of timing or encoding.
type aviWriter struct {
	f      *os.File
	off    int64 // bytes written so far
	w, h   int
	fields headerFields

	seg         int   // segments begun
	segStart    int64 // offset of the current segment's 'RIFF'
	moviStart   int64 // offset of the current segment's LIST 'movi'
	segFrames   []ixEntry
	idx1        []ixEntry // the first segment's frames
	firstFrames int       // frames in the first segment, once closed
	super       []superEntry
	frames      int
	maxChunk    int
	open        bool // the current segment has no index yet
}

type ixEntry struct {
	off  int64 // offset of the chunk's data
	size uint32
}

type superEntry struct {
	off      int64 // offset of the 'ix00' chunk
	size     uint32
	duration uint32
}

// le appends little-endian integers and FOURCCs.
type le []byte

func (b le) u16(v uint16) le { return binary.LittleEndian.AppendUint16(b, v) }
func (b le) u32(v uint32) le { return binary.LittleEndian.AppendUint32(b, v) }
func (b le) u64(v uint64) le { return binary.LittleEndian.AppendUint64(b, v) }
func (b le) cc(s string) le  { return append(b, s[:4]...) }
func (b le) zero(n int) le   { return append(b, make([]byte, n)...) }
func (b le) at() int64       { return int64(len(b)) }

func newAVI(f *os.File, w, h int) (*aviWriter, error) {
	if w <= 0 || h <= 0 || w > math.MaxInt16 || h > math.MaxInt16 {
		return nil, fmt.Errorf("frame size %dx%d does not fit an AVI header", w, h)
	}
	a := &aviWriter{f: f, w: w, h: h}
	hf := &a.fields
	var b le
	b = b.cc("RIFF")
	hf.riffSize = b.at()
	b = b.u32(0).cc("AVI ")

	hdrl := b.at()
	b = b.cc("LIST").u32(0).cc("hdrl")
	b = b.cc("avih").u32(avihSize)
	hf.usPerFrame = b.at()
	b = b.u32(0)
	hf.maxBytesPerSec = b.at()
	b = b.u32(0).u32(0).u32(avifHasIndex | avifIsInterleaved)
	hf.totalFrames = b.at()
	b = b.u32(0).u32(0).u32(1)
	hf.avihBufSize = b.at()
	b = b.u32(0).u32(uint32(w)).u32(uint32(h)).zero(16)

	strl := b.at()
	b = b.cc("LIST").u32(0).cc("strl")
	b = b.cc("strh").u32(strhSize).cc("vids").cc("MJPG").u32(0).u16(0).u16(0).u32(0)
	hf.scale = b.at()
	b = b.u32(0)
	hf.rate = b.at()
	b = b.u32(0).u32(0)
	hf.length = b.at()
	b = b.u32(0)
	hf.strhBufSize = b.at()
	b = b.u32(0).u32(0xFFFFFFFF).u32(0).u16(0).u16(0).u16(uint16(w)).u16(uint16(h))
	b = b.cc("strf").u32(strfSize).u32(strfSize).u32(uint32(w)).u32(uint32(h)).u16(1).u16(24).cc("MJPG").
		u32(uint32(w * h * 3)).u32(0).u32(0).u32(0).u32(0)
	b = b.cc("indx").u32(indxSize).u16(4).append8(0).append8(aviIndexOfIndexes)
	hf.indxInUse = b.at()
	b = b.u32(0).cc("00dc").zero(12)
	hf.indxEntries = b.at()
	b = b.zero(16 * superEntries)
	binary.LittleEndian.PutUint32(b[strl+4:], uint32(b.at()-strl-8))

	b = b.cc("LIST").u32(4 + 8 + dmlhSize).cc("odml").cc("dmlh").u32(dmlhSize)
	hf.dmlhFrames = b.at()
	b = b.zero(dmlhSize)
	binary.LittleEndian.PutUint32(b[hdrl+4:], uint32(b.at()-hdrl-8))

	a.moviStart = b.at()
	b = b.cc("LIST")
	hf.moviSize = b.at()
	b = b.u32(0)
	hf.moviFourCC = b.at()
	b = b.cc("movi")
	if _, err := f.Write(b); err != nil {
		return nil, err
	}
	a.off = b.at()
	a.seg = 1
	a.open = true
	return a, a.sync(30, 1)
}

func (b le) append8(v byte) le { return append(b, v) }

// writeFrame appends one JPEG as a '00dc' chunk, beginning a new segment first when
// this one is full.
func (a *aviWriter) writeFrame(jpeg []byte) error {
	if int64(len(jpeg)) > math.MaxUint32-16 {
		return errors.New("frame too large for AVI")
	}
	need := 8 + int64(len(jpeg)+1) + 32 + 8*int64(len(a.segFrames)+1) + 16*int64(len(a.idx1)+1)
	if len(a.segFrames) > 0 && a.off-a.segStart+need > segmentLimit {
		if err := a.nextSegment(); err != nil {
			return err
		}
	}
	var hdr le
	hdr = hdr.cc("00dc").u32(uint32(len(jpeg)))
	if err := a.write(hdr, jpeg, len(jpeg)%2 == 1); err != nil {
		return err
	}
	e := ixEntry{off: a.off - int64(len(jpeg)+len(jpeg)%2), size: uint32(len(jpeg))}
	a.segFrames = append(a.segFrames, e)
	if a.seg == 1 {
		a.idx1 = append(a.idx1, e)
	}
	a.frames++
	a.maxChunk = max(a.maxChunk, len(jpeg))
	return nil
}

func (a *aviWriter) write(hdr, data []byte, pad bool) error {
	buf := append(hdr, data...)
	if pad {
		buf = append(buf, 0)
	}
	n, err := a.f.Write(buf)
	a.off += int64(n)
	return err
}

// closeSegment writes the segment's 'ix00', the idx1 after the first segment's movi,
// and the segment's sizes.
func (a *aviWriter) closeSegment() error {
	ix := a.off
	var b le
	b = b.cc("ix00").u32(uint32(24 + 8*len(a.segFrames))).u16(2).append8(0).append8(aviIndexOfChunks).
		u32(uint32(len(a.segFrames))).cc("00dc").u64(uint64(a.moviStart)).u32(0)
	for _, e := range a.segFrames {
		b = b.u32(uint32(e.off - a.moviStart)).u32(e.size)
	}
	if len(a.super) >= superEntries {
		return fmt.Errorf("recording passed %d segments of %d MiB, the most its index can name", superEntries, segmentLimit>>20)
	}
	a.super = append(a.super, superEntry{off: ix, size: uint32(len(b)), duration: uint32(len(a.segFrames))})
	moviEnd := ix + int64(len(b))
	if a.seg == 1 {
		b = b.cc("idx1").u32(uint32(16 * len(a.idx1)))
		for _, e := range a.idx1 {
			b = b.cc("00dc").u32(aviifKeyframe).u32(uint32(e.off - 8 - a.fields.moviFourCC)).u32(e.size)
		}
		a.firstFrames = len(a.idx1)
	}
	if err := a.write(b, nil, false); err != nil {
		return err
	}
	a.open = false
	if err := a.putU32(a.moviStart+4, uint32(moviEnd-a.moviStart-8)); err != nil {
		return err
	}
	return a.putU32(a.segStart+4, uint32(a.off-a.segStart-8))
}

func (a *aviWriter) nextSegment() error {
	if err := a.closeSegment(); err != nil {
		return err
	}
	a.seg++
	a.segStart = a.off
	a.moviStart = a.off + 12
	a.segFrames = a.segFrames[:0]
	a.open = true
	var b le
	b = b.cc("RIFF").u32(0).cc("AVIX").cc("LIST").u32(0).cc("movi")
	return a.write(b, nil, false)
}

// sync rewrites the header fields that grow while recording: the frame rate as
// rate/scale, the counts, and the sizes of the open segment as if it ended here, so
// a file cut short by a crash reads up to its last whole frame.
func (a *aviWriter) sync(rate, scale uint32) error {
	hf := &a.fields
	first := a.firstFrames
	if a.seg == 1 {
		first = a.frames
	}
	us := uint32(math.Round(1e6 * float64(scale) / float64(rate)))
	buf := uint32(a.maxChunk + 8)
	for _, p := range []struct {
		at int64
		v  uint32
	}{
		{hf.usPerFrame, us}, {hf.maxBytesPerSec, uint32(min(float64(a.maxChunk)*float64(rate)/float64(scale), math.MaxUint32))},
		{hf.totalFrames, uint32(first)}, {hf.avihBufSize, buf},
		{hf.scale, scale}, {hf.rate, rate}, {hf.length, uint32(a.frames)}, {hf.strhBufSize, buf},
		{hf.dmlhFrames, uint32(a.frames)}, {hf.indxInUse, uint32(len(a.super))},
	} {
		if err := a.putU32(p.at, p.v); err != nil {
			return err
		}
	}
	if a.open {
		if err := a.putU32(a.moviStart+4, uint32(a.off-a.moviStart-8)); err != nil {
			return err
		}
		if err := a.putU32(a.segStart+4, uint32(a.off-a.segStart-8)); err != nil {
			return err
		}
	}
	var b le
	for _, s := range a.super {
		b = b.u64(uint64(s.off)).u32(s.size).u32(s.duration)
	}
	if len(b) > 0 {
		if _, err := a.f.WriteAt(b, hf.indxEntries); err != nil {
			return err
		}
	}
	return nil
}

func (a *aviWriter) putU32(at int64, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err := a.f.WriteAt(b[:], at)
	return err
}

// finish closes the last segment and writes the final header.
func (a *aviWriter) finish(rate, scale uint32) error {
	if err := a.closeSegment(); err != nil {
		return err
	}
	return a.sync(rate, scale)
}
