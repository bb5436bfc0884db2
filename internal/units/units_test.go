package units

import (
	"math"
	"strings"
	"testing"
)

func TestParseBitrateUsesTcUnits(t *testing.T) {
	for in, want := range map[string]int64{
		"100mbit": 100_000_000, "20Mbit": 20_000_000, "5mbit": 5_000_000, "500kbit": 500_000,
		"1gbit": 1_000_000_000, "2.5mbit": 2_500_000, "1mbps": 8_000_000, "64000": 64_000, "0": 0,
	} {
		got, err := ParseBitrate(in)
		if err != nil || got != want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestValuesThatAreNotQuantitiesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(string) error
		in    []string
	}{
		{"a bit rate", func(s string) error { _, err := ParseBitrate(s); return err },
			[]string{"NaN", "Inf", "-Inf", "1e-300", "1e-300mbit", "100bit", "-5mbit", "1e300", "fast", "20mbitz", ""}},
		{"a size", func(s string) error { _, _, err := ParseSize(s); return err },
			[]string{"big", "1280", "0x720", "1280x0", "-1x5", "70000x10", "1280x720x3", "x", ""}},
		{"a frame rate", func(s string) error { _, err := ParseFrameRate(s); return err },
			[]string{"-1", "NaN", "Inf", "1001", "fast", ""}},
		{"a probability", func(s string) error { _, err := ParseProbability(s); return err },
			[]string{"1.5", "150%", "-0.1", "NaN", "lots", "%", ""}},
		{"a byte size", func(s string) error { _, err := ParseBytes(s); return err },
			[]string{"-1", "3 apples", "99999999999", "1.5kb", "kb", ""}},
	} {
		for _, in := range tc.in {
			t.Run(tc.name+" refuses "+in, func(t *testing.T) {
				if err := tc.parse(in); err == nil {
					t.Fatalf("%q accepted", in)
				}
			})
		}
	}
}

func TestQuantitiesAreReadInTheirDocumentedForms(t *testing.T) {
	if w, h, err := ParseSize("1920X1080"); err != nil || w != 1920 || h != 1080 {
		t.Errorf("ParseSize(1920X1080) = %d, %d, %v", w, h, err)
	}
	for in, want := range map[string]float64{"max": 0, "0": 0, "29.97": 29.97, "1000": 1000} {
		if got, err := ParseFrameRate(in); err != nil || got != want {
			t.Errorf("ParseFrameRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]float64{"0.05": 0.05, "5%": 0.05, "100%": 1, "0": 0} {
		if got, err := ParseProbability(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseProbability(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]int{"1500": 1500, "32kb": 32 << 10, "32k": 32 << 10, "32kib": 32 << 10, "1mb": 1 << 20, "64b": 64} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestFlagValuesPrintWhatTheyRead(t *testing.T) {
	for _, tc := range []struct {
		v interface {
			Set(string) error
			String() string
		}
		in, want string
	}{
		{new(Bitrate), "20mbit", "20mbit"}, {new(Bitrate), "500kbit", "500kbit"}, {new(Bitrate), "12345", "12345bit"},
		{new(Size), "1280X720", "1280x720"}, {new(FrameRate), "max", "max"}, {new(FrameRate), "25", "25"},
		{new(Probability), "5%", "0.05"}, {new(Bytes), "2k", "2kb"}, {new(Bytes), "1500", "1500"}, {new(Bytes), "256mb", "256mb"},
	} {
		if err := tc.v.Set(tc.in); err != nil || tc.v.String() != tc.want {
			t.Errorf("%T.Set(%q): String %q, %v; want %q", tc.v, tc.in, tc.v.String(), err, tc.want)
		}
	}
}

func FuzzParseBitrate(f *testing.F) {
	for _, s := range []string{"20mbit", "1gbps", "0", "-5mbit", "1e300", "kbit", "NaN", "1e-300"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseBitrate(s)
		if err == nil && (v < 0 || v > 0 && v < 8000) {
			t.Errorf("ParseBitrate(%q) = %d", s, v)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1280x720", "0x0", "65535x65535", "65536x1", "x", "-1x-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, h, err := ParseSize(s)
		if err == nil && (w < 1 || h < 1 || w > MaxSide || h > MaxSide) {
			t.Errorf("ParseSize(%q) = %d, %d", s, w, h)
		}
	})
}

func FuzzParseFrameRate(f *testing.F) {
	for _, s := range []string{"30", "max", "0", "NaN", "1e9", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseFrameRate(s)
		if err == nil && !(v >= 0 && v <= MaxFPS) {
			t.Errorf("ParseFrameRate(%q) = %v", s, v)
		}
	})
}

func FuzzParseProbability(f *testing.F) {
	for _, s := range []string{"0", "0.05", "5%", "100%", "1", "-1", "NaN", "inf", "1e-3", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseProbability(s)
		if err == nil && !(v >= 0 && v <= 1) {
			t.Errorf("ParseProbability(%q) = %v", s, v)
		}
	})
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"1500", "32kb", "1mb", "-1", "2147483647", "2048m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseBytes(s)
		if err == nil && (v < 0 || v > math.MaxInt32) {
			t.Errorf("ParseBytes(%q) = %d", s, v)
		}
	})
}

// A bare small number is bit/s: the error asks for a unit instead of calling it a mistake.
func TestABareSmallRateAsksForAUnit(t *testing.T) {
	_, err := ParseBitrate("20")
	if err == nil || !strings.Contains(err.Error(), "give a unit, like 20mbit") {
		t.Fatalf("ParseBitrate(20) = %v, want an error asking for a unit", err)
	}
}
