package wire

import (
	"errors"
	"testing"
)

func TestDrops(t *testing.T) {
	body := func(m Drops, extra ...byte) []byte {
		b := make([]byte, DropsSize)
		if _, err := m.MarshalTo(b); err != nil {
			t.Fatal(err)
		}
		return append(b, extra...)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want Drops
		ok   bool
	}{
		{"a count round-trips", body(Drops{Stream: 0xdeadbeef, Count: 123456, ClockUS: -5}), Drops{Stream: 0xdeadbeef, Count: 123456, ClockUS: -5}, true},
		{"bytes after the twentieth are ignored", body(Drops{Count: 7}, 1, 2, 3), Drops{Count: 7}, true},
		{"a short body is an error", make([]byte, DropsSize-1), Drops{}, false},
		{"a count above 2^63-1 is an error", append([]byte{0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...), Drops{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Drops
			err := got.Unmarshal(tc.body)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrControl) {
				t.Fatalf("err %v does not wrap ErrControl", err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("a short buffer is refused, not overrun", func(t *testing.T) {
		m := Drops{Count: 1}
		if _, err := m.MarshalTo(make([]byte, DropsSize-1)); err == nil {
			t.Fatal("MarshalTo into 19 bytes succeeded")
		}
	})
}

func FuzzDrops(f *testing.F) {
	seed := make([]byte, DropsSize)
	m := Drops{Stream: 1, Count: 1 << 40, ClockUS: 1 << 50}
	m.MarshalTo(seed)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Drops
		if d.Unmarshal(b) != nil {
			return
		}
		out := make([]byte, DropsSize)
		if _, err := d.MarshalTo(out); err != nil {
			t.Fatalf("%+v parsed but does not marshal: %v", d, err)
		}
		var again Drops
		if err := again.Unmarshal(out); err != nil || again != d {
			t.Fatalf("%+v does not round-trip: %+v, %v", d, again, err)
		}
	})
}
