// Package units parses the quantities HRVS's command lines take (frame sizes, frame
// rates, bit rates in tc's notation, byte sizes, probabilities), so every command reads a
// value the same way and refuses the same mistakes. Each quantity has a parser and a
// flag.Value type built on it; bounds that depend on a command are its own to check.
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// rateUnits are tc's: "bit" units count bits, "bps" units count bytes, with SI multipliers.
var rateUnits = []struct {
	suffix string
	mult   float64
}{
	{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
	{"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
}

// ParseBitrate reads a rate in tc's notation ("20mbit", "500kbit", "1gbit", "2mbps" = 2 megabytes
// per second, or a bare number of bits per second) and returns bits per second. 0 is 0
// (callers read it as "none"); other rates must be 8 kbit/s..1000 Tbit/s.
func ParseBitrate(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult, bare := 1.0, true
	for _, u := range rateUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult, bare = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult, false
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a rate (like 20mbit, 500kbit or 1gbit)", s)
	}
	bits := v * mult
	if bits < 0 || bits > 1e15 {
		return 0, fmt.Errorf("rate %q is out of range", s)
	}
	if bits > 0 && bits < 8000 {
		if bare && v >= 1 { // a bare number is bit/s, which is rarely what was meant
			return 0, fmt.Errorf("rate %q is %s bit/s: give a unit, like %smbit or %skbit", s, t, t, t)
		}
		return 0, fmt.Errorf("rate %q is below 8kbit, surely a mistake", s)
	}
	return int64(bits), nil
}

// Bitrate is a flag.Value in bits per second, written in tc's notation (ParseBitrate).
type Bitrate int64

func (b *Bitrate) String() string {
	switch v := int64(*b); {
	case v == 0:
		return "0"
	case v%1_000_000 == 0:
		return strconv.FormatInt(v/1_000_000, 10) + "mbit"
	case v%1000 == 0:
		return strconv.FormatInt(v/1000, 10) + "kbit"
	default:
		return strconv.FormatInt(v, 10) + "bit"
	}
}

func (b *Bitrate) Set(s string) error {
	v, err := ParseBitrate(s)
	if err != nil {
		return err
	}
	*b = Bitrate(v)
	return nil
}

// MaxSide bounds each side of a Size: 16 bits, the width of a side on the wire
// (net/wire's header); commands check their own, smaller limits.
const MaxSide = 65535

// ParseSize reads WIDTHxHEIGHT in pixels ("1280x720", "1920X1080"), each side 1..MaxSide.
func ParseSize(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 || w > MaxSide || h > MaxSide {
		return 0, 0, fmt.Errorf("%q is not WIDTHxHEIGHT with sides 1..%d, like 1280x720", s, MaxSide)
	}
	return w, h, nil
}

// Size is a flag.Value: a frame or tile size in pixels, written WxH.
type Size struct{ W, H int }

func (z *Size) String() string {
	if z.W == 0 && z.H == 0 {
		return ""
	}
	return fmt.Sprintf("%dx%d", z.W, z.H)
}

func (z *Size) Set(s string) error {
	w, h, err := ParseSize(s)
	if err != nil {
		return err
	}
	z.W, z.H = w, h
	return nil
}

// MaxFPS bounds a frame rate: above it a rate is surely a typo.
const MaxFPS = 1000

// ParseFrameRate reads frames per second, 0 < fps <= MaxFPS, or "max" or 0 for as fast as
// frames can be made, which it returns as 0.
func ParseFrameRate(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "max" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v >= 0 && v <= MaxFPS) { // also refuses NaN
		return 0, fmt.Errorf("%q: want 0..%d frames per second, or max", s, MaxFPS)
	}
	return v, nil
}

// FrameRate is a flag.Value in frames per second; 0 means as fast as possible ("max").
// Given reports whether the flag was set, for commands whose default is "the source's own".
type FrameRate struct {
	FPS   float64
	Given bool
}

func (r *FrameRate) String() string {
	switch {
	case !r.Given:
		return ""
	case r.FPS == 0:
		return "max"
	}
	return strconv.FormatFloat(r.FPS, 'g', -1, 64)
}

func (r *FrameRate) Set(s string) error {
	v, err := ParseFrameRate(s)
	if err != nil {
		return err
	}
	r.FPS, r.Given = v, true
	return nil
}

// ParseProbability reads "0.05" or "5%" as 0.05; anything outside 0..1 is an error.
func ParseProbability(s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSpace(strings.TrimSuffix(t, "%")), 100
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a probability (like 0.05 or 5%%)", s)
	}
	v /= scale
	if !(v >= 0 && v <= 1) {
		return 0, fmt.Errorf("%q is outside 0..1 (0%%..100%%)", s)
	}
	return v, nil
}

// Probability is a flag.Value: a share 0..1, written 0.05 or 5%.
type Probability float64

func (p *Probability) String() string { return strconv.FormatFloat(float64(*p), 'g', -1, 64) }

func (p *Probability) Set(s string) error {
	v, err := ParseProbability(s)
	if err != nil {
		return err
	}
	*p = Probability(v)
	return nil
}

// ParseBytes reads a byte count with an optional binary suffix: 1500, 32kb, 32k, 32kib,
// 1mb, 64b; at most 2^31-1 bytes.
func ParseBytes(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.Atoi(t)
	if err != nil || v < 0 || v > math.MaxInt32/mult {
		return 0, fmt.Errorf("%q is not a size in bytes (like 1500, 32kb or 1mb)", s)
	}
	return v * mult, nil
}

// Bytes is a flag.Value: a byte count written as ParseBytes reads it.
type Bytes int

// String writes b in the largest unit that holds it whole (256mb, 32kb, 1500), as
// ParseBytes reads it back.
func (b *Bytes) String() string {
	if b == nil {
		return "0"
	}
	switch v := int(*b); {
	case v != 0 && v%(1<<20) == 0:
		return strconv.Itoa(v>>20) + "mb"
	case v != 0 && v%(1<<10) == 0:
		return strconv.Itoa(v>>10) + "kb"
	default:
		return strconv.Itoa(v)
	}
}

func (b *Bytes) Set(s string) error {
	v, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b = Bytes(v)
	return nil
}
