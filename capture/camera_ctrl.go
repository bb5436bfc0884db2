package capture

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Camera controls as V4L2 exposes them (VIDIOC_QUERYCTRL, "User Controls" and
// "Camera Control Reference" in the V4L2 userspace API), named the way v4l2-ctl
// names them so a user can carry settings over: brightness, auto_exposure,
// power_line_frequency.

// camControl is one control of a capture node, with its range and current value.
type camControl struct {
	ID                 uint32
	Name               string // as the driver says it: "Power Line Frequency"
	Kind               string // int, bool, menu or button
	Min, Max, Step     int64
	Default, Value     int64
	Menu               []camMenuItem
	ReadOnly, Inactive bool
}

type camMenuItem struct {
	Index int64
	Name  string
}

// camCtrlSet is one name=value from --ctrl, not yet checked against a device.
type camCtrlSet struct{ Name, Value string }

// ctrlValue is a checked setting ready for VIDIOC_S_CTRL.
type ctrlValue struct {
	ID    uint32
	Value int64
}

// ctrlAliases maps the control names older kernels (and most guides) use to the
// ones drivers report since Linux 5.x renamed them.
var ctrlAliases = map[string]string{
	"exposure_auto":                  "auto_exposure",
	"exposure_absolute":              "exposure_time_absolute",
	"focus_auto":                     "focus_automatic_continuous",
	"white_balance_temperature_auto": "white_balance_automatic",
}

// ctrlName is v4l2-ctl's name for a control: lower case, each run of other
// characters one underscore ("Y'CbCr Encoding" is y_cbcr_encoding).
func ctrlName(name string) string {
	var b strings.Builder
	under := false
	for _, r := range name {
		isAlnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !isAlnum {
			under = b.Len() > 0
			continue
		}
		if under {
			b.WriteByte('_')
			under = false
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseControls splits --ctrl's "name=value[,name=value]".
func parseControls(s string) ([]camCtrlSet, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []camCtrlSet
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf("--ctrl %q: want name=value[,name=value], like brightness=140,power_line_frequency=1", kv)
		}
		out = append(out, camCtrlSet{Name: strings.ToLower(name), Value: val})
	}
	return out, nil
}

// resolveControls checks each setting against what the node offers: the name
// must exist, the value must be a number in range (on the control's step) or a
// menu item's name. Errors list what exists.
func resolveControls(ctrls []camControl, sets []camCtrlSet) ([]ctrlValue, error) {
	byName := map[string]camControl{}
	for _, c := range ctrls {
		byName[ctrlName(c.Name)] = c
	}
	var out []ctrlValue
	for _, s := range sets {
		name := s.Name
		c, ok := byName[name]
		if !ok {
			c, ok = byName[ctrlAliases[name]]
		}
		if !ok {
			names := make([]string, 0, len(byName))
			for n, c := range byName {
				if !c.ReadOnly {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			return nil, fmt.Errorf("--ctrl %s: the camera has no such control (it has %s)", name, strings.Join(names, ", "))
		}
		if c.ReadOnly {
			return nil, fmt.Errorf("--ctrl %s: the control is read-only", name)
		}
		v, err := ctrlParseValue(c, s.Value)
		if err != nil {
			return nil, fmt.Errorf("--ctrl %s=%s: %w", name, s.Value, err)
		}
		out = append(out, ctrlValue{ID: c.ID, Value: v})
	}
	return out, nil
}

func ctrlParseValue(c camControl, s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil && c.Kind == "bool" {
		switch strings.ToLower(s) {
		case "true", "on", "yes":
			v, err = 1, nil
		case "false", "off", "no":
			v, err = 0, nil
		}
	}
	if c.Kind == "menu" {
		for _, m := range c.Menu {
			if err == nil && m.Index == v || err != nil && ctrlName(m.Name) == ctrlName(s) {
				return m.Index, nil
			}
		}
		return 0, fmt.Errorf("not one of %s", menuText(c.Menu))
	}
	if err != nil {
		return 0, fmt.Errorf("want a number from %d to %d", c.Min, c.Max)
	}
	if v < c.Min || v > c.Max || (c.Step > 1 && (v-c.Min)%c.Step != 0) {
		if c.Step > 1 {
			return 0, fmt.Errorf("out of range: want %d to %d in steps of %d", c.Min, c.Max, c.Step)
		}
		return 0, fmt.Errorf("out of range: want %d to %d", c.Min, c.Max)
	}
	return v, nil
}

func menuText(items []camMenuItem) string {
	parts := make([]string, len(items))
	for i, m := range items {
		parts[i] = fmt.Sprintf("%d (%s)", m.Index, ctrlName(m.Name))
	}
	return strings.Join(parts, ", ")
}

// controlText is one control's line in hrvs devices, like v4l2-ctl --list-ctrls.
func controlText(c camControl) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", ctrlName(c.Name), c.Kind)
	switch c.Kind {
	case "int":
		fmt.Fprintf(&b, " %d to %d", c.Min, c.Max)
		if c.Step > 1 {
			fmt.Fprintf(&b, " step %d", c.Step)
		}
		fmt.Fprintf(&b, ", default %d, value %d", c.Default, c.Value)
	case "bool":
		fmt.Fprintf(&b, " default %d, value %d", c.Default, c.Value)
	case "menu":
		fmt.Fprintf(&b, " %s; default %d, value %d", menuText(c.Menu), c.Default, c.Value)
	}
	if c.ReadOnly {
		b.WriteString(" [read-only]")
	}
	if c.Inactive {
		b.WriteString(" [inactive]")
	}
	return b.String()
}
