package capture

import (
	"strings"
	"testing"
)

// Controls as vivid and a UVC webcam report them.
var testCtrls = []camControl{
	{ID: 0x980900, Name: "Brightness", Kind: "int", Min: 0, Max: 255, Step: 1, Default: 128, Value: 128},
	{ID: 0x980901, Name: "Contrast", Kind: "int", Min: 0, Max: 100, Step: 5, Default: 50, Value: 50},
	{ID: 0x980918, Name: "Power Line Frequency", Kind: "menu", Min: 0, Max: 2, Default: 1, Value: 1,
		Menu: []camMenuItem{{0, "Disabled"}, {1, "50 Hz"}, {2, "60 Hz"}}},
	{ID: 0x9a0901, Name: "Auto Exposure", Kind: "menu", Min: 0, Max: 3, Default: 3, Value: 3,
		Menu: []camMenuItem{{1, "Manual Mode"}, {3, "Aperture Priority Mode"}}},
	{ID: 0x98090c, Name: "White Balance, Automatic", Kind: "bool", Max: 1, Default: 1, Value: 1},
	{ID: 0xf0f0f0, Name: "Read-Only Integer 32 Bits", Kind: "int", Max: 255, ReadOnly: true},
}

func TestCtrlName(t *testing.T) {
	for in, want := range map[string]string{
		"Y'CbCr Encoding":                 "y_cbcr_encoding",
		"White Balance Temperature, Auto": "white_balance_temperature_auto",
		"Exposure Time, Absolute":         "exposure_time_absolute",
		"75% Colorbar":                    "75_colorbar",
		"  Brightness  ":                  "brightness",
	} {
		if got := ctrlName(in); got != want {
			t.Errorf("ctrlName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveControls(t *testing.T) {
	for _, tc := range []struct {
		name, flag string
		want       []ctrlValue
		err        string
	}{
		{"a number in range is taken", "brightness=140", []ctrlValue{{0x980900, 140}}, ""},
		{"several are set in order", "brightness=0, contrast=100", []ctrlValue{{0x980900, 0}, {0x980901, 100}}, ""},
		{"a menu item is taken by its name", "power_line_frequency=60_hz", []ctrlValue{{0x980918, 2}}, ""},
		{"a menu item is taken by its index", "power_line_frequency=0", []ctrlValue{{0x980918, 0}}, ""},
		{"an old kernel's name still works", "exposure_auto=1,white_balance_temperature_auto=off", []ctrlValue{{0x9a0901, 1}, {0x98090c, 0}}, ""},
		{"an unknown name lists what exists", "zoom=3", nil, "no such control (it has auto_exposure, brightness, contrast, power_line_frequency, white_balance_automatic)"},
		{"a value out of range says the range", "brightness=300", nil, "brightness=300: out of range: want 0 to 255"},
		{"a value off the step says the step", "contrast=52", nil, "want 0 to 100 in steps of 5"},
		{"a missing menu index lists the items", "auto_exposure=2", nil, "not one of 1 (manual_mode), 3 (aperture_priority_mode)"},
		{"a word for a number is refused", "brightness=high", nil, "want a number from 0 to 255"},
		{"a read-only control is refused", "read_only_integer_32_bits=1", nil, "read-only"},
		{"a setting without a value is refused", "brightness", nil, "want name=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sets, err := parseControls(tc.flag)
			var got []ctrlValue
			if err == nil {
				got, err = resolveControls(testCtrls, sets)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestControlText(t *testing.T) {
	if got, want := controlText(testCtrls[2]), "power_line_frequency (menu) 0 (disabled), 1 (50_hz), 2 (60_hz); default 1, value 1"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got, want := controlText(testCtrls[1]), "contrast (int) 0 to 100 step 5, default 50, value 50"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func FuzzParseControls(f *testing.F) {
	for _, s := range []string{"brightness=140", "a=1,b=2", ",", "=", "x==y", "power_line_frequency=50_hz, exposure_auto=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sets, err := parseControls(s)
		if err != nil {
			return
		}
		for _, c := range sets {
			if c.Name == "" || c.Value == "" {
				t.Fatalf("%q gave an empty setting %+v", s, c)
			}
		}
		resolveControls(testCtrls, sets) // must not panic, whatever the names and values
	})
}
