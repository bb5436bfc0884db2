package units

import "testing"

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

func FuzzParseBitrate(f *testing.F) {
	for _, s := range []string{"20mbit", "1gbps", "0", "-5mbit", "1e300", "kbit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseBitrate(s)
		if err == nil && v < 0 {
			t.Errorf("ParseBitrate(%q) = %d", s, v)
		}
	})
}
