package discover

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func entry(name string, role Role, addr string) Entry {
	return Entry{Instance: name, Addr: netip.MustParseAddrPort(addr), Info: Info{Role: role, Version: 3}}
}

func TestPick(t *testing.T) {
	studio := entry("studio", RoleReceiver, "10.0.0.2:5000")
	lab := entry("lab", RoleReceiver, "10.0.0.3:5000")
	camera := entry("camera", RoleSender, "10.0.0.4:5000")
	cases := []struct {
		name    string
		entries []Entry
		ask     string
		want    string // the instance picked, "" for an error
		err     error
		says    string
	}{
		{"auto with no receiver finds none", nil, Auto, "", ErrNone, "no receiver"},
		{"auto with only a sender finds none", []Entry{camera}, Auto, "", ErrNone, "no receiver"},
		{"auto with one receiver picks it", []Entry{studio}, Auto, "studio", nil, ""},
		{"auto with one receiver and a sender picks the receiver", []Entry{camera, studio}, Auto, "studio", nil, ""},
		{"auto with two receivers names both", []Entry{lab, studio}, Auto, "", nil, "2 receivers answered: lab (10.0.0.3:5000), studio (10.0.0.2:5000)"},
		{"a name picks that receiver", []Entry{lab, studio}, "studio", "studio", nil, ""},
		{"a name matches without regard to case", []Entry{lab, studio}, "Studio", "studio", nil, ""},
		{"an unknown name lists those heard", []Entry{lab, studio}, "garage", "", ErrNotFound, `"garage" (heard: lab (10.0.0.3:5000), studio (10.0.0.2:5000))`},
		{"a sender's name is not a receiver", []Entry{camera}, "camera", "", ErrNotFound, `"camera"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Pick(c.entries, c.ask)
			if c.want != "" {
				if err != nil || got.Instance != c.want {
					t.Fatalf("Pick = %v, %v; want %s", got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Pick = %v, want an error", got)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			var several *SeveralError
			if c.err == nil && !errors.As(err, &several) {
				t.Fatalf("error %v, want a *SeveralError", err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not say %q", err, c.says)
			}
		})
	}
}

func TestPickGroup(t *testing.T) {
	sender := func(name, group string) Entry {
		e := entry(name, RoleSender, "10.0.0.4:40000")
		if group != "" {
			e.Info.Group = netip.MustParseAddrPort(group)
		}
		return e
	}
	camera, stage := sender("camera", "239.1.2.3:5000"), sender("stage", "239.1.2.4:5000")
	desk := sender("desk", "")
	studio := entry("camera", RoleReceiver, "10.0.0.2:5000") // a receiver of the same name
	cases := []struct {
		name    string
		entries []Entry
		ask     string
		want    string // the group picked, "" for an error
		err     error
		says    string
	}{
		{"auto with nothing heard finds no group", nil, Auto, "", ErrNoGroup, "no multicast sender answered"},
		{"auto with only a receiver finds no group", []Entry{studio}, Auto, "", ErrNoGroup, "no multicast sender answered"},
		{"auto with only a unicast sender says so", []Entry{desk}, Auto, "", ErrNoGroup, "heard only senders to one receiver: desk (unicast, from 10.0.0.4)"},
		{"auto with one multicast sender picks its group", []Entry{studio, desk, camera}, Auto, "239.1.2.3:5000", nil, ""},
		{"auto with two multicast senders names both", []Entry{camera, stage}, Auto, "", nil,
			"2 multicast senders answered: camera (group 239.1.2.3:5000), stage (group 239.1.2.4:5000)"},
		{"a name picks that sender, not the receiver of the same name", []Entry{studio, camera, stage}, "camera", "239.1.2.3:5000", nil, ""},
		{"a name matches without regard to case", []Entry{camera, stage}, "STAGE", "239.1.2.4:5000", nil, ""},
		{"a unicast sender's name has no group", []Entry{desk, camera}, "desk", "", ErrUnicast, `"desk": it sends to one receiver, not to a multicast group`},
		{"an unknown name lists the senders heard", []Entry{studio, camera, desk}, "garage", "", ErrNoSender,
			`"garage" (heard: camera (group 239.1.2.3:5000), desk (unicast, from 10.0.0.4))`},
		{"a receiver's name is not a sender", []Entry{studio}, "camera", "", ErrNoSender, `no sender of that name answered: "camera"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := PickGroup(c.entries, c.ask)
			if c.want != "" {
				if err != nil || got.Info.Group.String() != c.want || got.Info.Role != RoleSender {
					t.Fatalf("PickGroup = %v, %v; want the sender to %s", got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("PickGroup = %v, want an error", got)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			var several *SeveralError
			if c.err == nil && !errors.As(err, &several) {
				t.Fatalf("error %v, want a *SeveralError", err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not say %q", err, c.says)
			}
		})
	}
}
