// Package units parses the quantities HRVS's command lines take (bit rates in tc's
// notation), so every command reads a value the same way and refuses the same mistakes.
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
// per second, or a bare number of bits per second) and returns bits per second.
func ParseBitrate(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range rateUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
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
		return 0, fmt.Errorf("rate %q is below 8kbit, surely a mistake", s)
	}
	return int64(bits), nil
}
