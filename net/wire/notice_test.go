package wire

import (
	"errors"
	"testing"
)

func TestNotice(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want Notice
		ok   bool
	}{
		{"a left-behind notice round-trips", AppendNotice(nil, Notice{State: NoticeLeftBehind, Reason: ReasonLoss, LossBP: 2500, GroupKbps: 40000}),
			Notice{State: NoticeLeftBehind, Reason: ReasonLoss, LossBP: 2500, GroupKbps: 40000}, true},
		{"bytes after the eighth are ignored", append(AppendNotice(nil, Notice{GroupKbps: 7}), 1, 2, 3), Notice{GroupKbps: 7}, true},
		{"a short body is an error", []byte{1, 1, 0, 0, 0, 0, 0}, Notice{}, false},
		{"an unknown state is an error", []byte{2, 0, 0, 0, 0, 0, 0, 0}, Notice{}, false},
		{"a loss above 100% is an error", []byte{1, 1, 0x27, 0x11, 0, 0, 0, 0}, Notice{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNotice(tc.body)
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
}

func FuzzParseNotice(f *testing.F) {
	f.Add(AppendNotice(nil, Notice{State: NoticeLeftBehind, Reason: ReasonLate, LossBP: 10000, GroupKbps: 1 << 31}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNotice(b)
		if err != nil {
			return
		}
		again, err := ParseNotice(AppendNotice(nil, n))
		if err != nil || again != n {
			t.Fatalf("%+v does not round-trip: %+v, %v", n, again, err)
		}
	})
}
