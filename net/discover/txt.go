package discover

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Role is what an announced instance does.
type Role string

// Roles an instance announces in its TXT record's "role" key.
const (
	RoleReceiver Role = "recv"
	RoleSender   Role = "send"
)

// TXT keys (RFC 6763 §6.4: short, lower case, no '=').
const (
	keyVersion = "v"    // the wire protocol's version (docs/PROTOCOL.md)
	keyRole    = "role" // recv or send
	keyMax     = "max"  // the largest frame accepted, WIDTHxHEIGHT in pixels
	keyKey     = "key"  // the stream key's fingerprint; absent when the stream is open
	// A sender's keys.
	keySize  = "size"  // the frames sent, WIDTHxHEIGHT in pixels
	keyFPS   = "fps"   // the source's frame rate, frames per second; absent: as fast as possible
	keyGroup = "group" // the multicast GROUP:PORT sent to; absent for a sender to one receiver
)

// maxFPS is the highest frame rate a TXT record may state (hrvs send --fps takes 0..1000).
const maxFPS = 1000

// maxTXTString is the longest string a TXT record holds (RFC 6763 §6.1: one length byte).
const maxTXTString = 255

// ErrBadTXT is wrapped by ParseTXT for a record it cannot read.
var ErrBadTXT = errors.New("discover: bad TXT record")

// Info is what an instance tells about itself in its TXT record.
type Info struct {
	Role    Role
	Version int    // wire protocol version
	MaxW    int    // a receiver's largest frame accepted, pixels; 0 when not said
	MaxH    int    //
	Key     string // fingerprint of the stream key (seal.Key.Fingerprint); "" for an open stream

	// A sender's stream. The receiver a sender sends to one by one is not told.
	W, H  int            // frame size, pixels; 0 when not said
	FPS   float64        // frames per second; 0 when not said (as fast as possible)
	Group netip.AddrPort // the IPv4 multicast group and port sent to; invalid for unicast
}

// Multicast reports whether i is a sender's to a multicast group, which receivers may join.
func (i Info) Multicast() bool { return i.Group.IsValid() }

// TXT encodes i as DNS-SD key=value strings (RFC 6763 §6.3), in a fixed order.
func (i Info) TXT() []string {
	txt := []string{keyVersion + "=" + strconv.Itoa(i.Version), keyRole + "=" + string(i.Role)}
	if i.MaxW > 0 && i.MaxH > 0 {
		txt = append(txt, fmt.Sprintf("%s=%dx%d", keyMax, i.MaxW, i.MaxH))
	}
	if i.Key != "" {
		txt = append(txt, keyKey+"="+i.Key)
	}
	if i.W > 0 && i.H > 0 {
		txt = append(txt, fmt.Sprintf("%s=%dx%d", keySize, i.W, i.H))
	}
	if fps := roundFPS(i.FPS); fps > 0 {
		txt = append(txt, keyFPS+"="+strings.TrimRight(strings.TrimRight(strconv.FormatFloat(fps, 'f', 3, 64), "0"), "."))
	}
	if i.Group.IsValid() {
		txt = append(txt, keyGroup+"="+i.Group.String())
	}
	return txt
}

// roundFPS rounds a frame rate to thousandths, as the TXT record writes it (29.97 stays
// 29.97), so a rate read from a record is written back the same and stays short.
func roundFPS(f float64) float64 { return math.Round(f*1000) / 1000 }

// parseSize reads WIDTHxHEIGHT, each side 1..65535 (the wire's 16 bits).
func parseSize(v string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(v, "x")
	w, werr := strconv.Atoi(ws)
	h, herr := strconv.Atoi(hs)
	if !ok || werr != nil || herr != nil || w <= 0 || h <= 0 || w > 65535 || h > 65535 {
		return 0, 0, fmt.Errorf("%w: size %q, want WIDTHxHEIGHT", ErrBadTXT, v)
	}
	return w, h, nil
}

// ParseTXT decodes a TXT record written by Info.TXT. Following RFC 6763 §6.4-6.5, keys
// are matched without regard to case, a key seen twice keeps its first value, and keys
// it does not know are ignored (a later version may add some). The version and the role
// are required; a record without them is not an HRVS instance's.
func ParseTXT(txt []string) (Info, error) {
	var i Info
	seen := map[string]bool{}
	for _, s := range txt {
		if len(s) > maxTXTString {
			return Info{}, fmt.Errorf("%w: a string of %d bytes, at most %d", ErrBadTXT, len(s), maxTXTString)
		}
		k, v, _ := strings.Cut(s, "=")
		k = strings.ToLower(k)
		if k == "" || seen[k] {
			continue // §6.4: a string with no key is ignored, and so is a repeated key
		}
		seen[k] = true
		switch k {
		case keyVersion:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 255 {
				return Info{}, fmt.Errorf("%w: version %q", ErrBadTXT, v)
			}
			i.Version = n
		case keyRole:
			switch r := Role(v); r {
			case RoleReceiver, RoleSender:
				i.Role = r
			default:
				return Info{}, fmt.Errorf("%w: role %q", ErrBadTXT, v)
			}
		case keyMax:
			w, h, err := parseSize(v)
			if err != nil {
				return Info{}, err
			}
			i.MaxW, i.MaxH = w, h
		case keyKey:
			i.Key = v
		case keySize:
			w, h, err := parseSize(v)
			if err != nil {
				return Info{}, err
			}
			i.W, i.H = w, h
		case keyFPS:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || f < 0 || f > maxFPS {
				return Info{}, fmt.Errorf("%w: frame rate %q, want 0..%d", ErrBadTXT, v, maxFPS)
			}
			i.FPS = roundFPS(f)
		case keyGroup:
			g, err := netip.ParseAddrPort(v)
			if err != nil || !g.Addr().Is4() || !g.Addr().IsMulticast() || g.Port() == 0 {
				return Info{}, fmt.Errorf("%w: group %q, want an IPv4 multicast GROUP:PORT", ErrBadTXT, v)
			}
			i.Group = g
		}
	}
	switch {
	case !seen[keyVersion]:
		return Info{}, fmt.Errorf("%w: no version", ErrBadTXT)
	case !seen[keyRole]:
		return Info{}, fmt.Errorf("%w: no role", ErrBadTXT)
	}
	return i, nil
}
