//go:build linux && cgo

package capture

/*
#include <linux/videodev2.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// listControls reads a node's controls with VIDIOC_QUERYCTRL (walking them with
// V4L2_CTRL_FLAG_NEXT_CTRL), their current values and menu items.
func listControls(fd int) ([]camControl, error) {
	var out []camControl
	id := C.__u32(C.V4L2_CTRL_FLAG_NEXT_CTRL)
	for {
		var q C.struct_v4l2_queryctrl
		q.id = id
		if err := xioctl(fd, C.VIDIOC_QUERYCTRL, unsafe.Pointer(&q)); err != nil {
			break // EINVAL: no more controls
		}
		id = q.id | C.V4L2_CTRL_FLAG_NEXT_CTRL
		if q.flags&C.V4L2_CTRL_FLAG_DISABLED != 0 || q._type == C.V4L2_CTRL_TYPE_CTRL_CLASS {
			continue
		}
		ct := camControl{ID: uint32(q.id), Name: C.GoString((*C.char)(unsafe.Pointer(&q.name[0]))),
			Min: int64(q.minimum), Max: int64(q.maximum), Step: int64(q.step), Default: int64(q.default_value),
			ReadOnly: q.flags&C.V4L2_CTRL_FLAG_READ_ONLY != 0, Inactive: q.flags&C.V4L2_CTRL_FLAG_INACTIVE != 0}
		switch q._type {
		case C.V4L2_CTRL_TYPE_INTEGER:
			ct.Kind = "int"
		case C.V4L2_CTRL_TYPE_BOOLEAN:
			ct.Kind = "bool"
		case C.V4L2_CTRL_TYPE_MENU, C.V4L2_CTRL_TYPE_INTEGER_MENU:
			ct.Kind = "menu"
			for i := q.minimum; i <= q.maximum; i++ {
				var m C.struct_v4l2_querymenu
				m.id, m.index = q.id, C.__u32(i)
				if xioctl(fd, C.VIDIOC_QUERYMENU, unsafe.Pointer(&m)) != nil {
					continue
				}
				name := C.GoString((*C.char)(unsafe.Pointer(&m.anon0[0])))
				if q._type == C.V4L2_CTRL_TYPE_INTEGER_MENU {
					name = fmt.Sprint(*(*int64)(unsafe.Pointer(&m.anon0[0])))
				}
				ct.Menu = append(ct.Menu, camMenuItem{Index: int64(i), Name: name})
			}
		case C.V4L2_CTRL_TYPE_BUTTON:
			ct.Kind = "button"
		default:
			continue // strings, arrays, 64-bit and compound controls: not what users set here
		}
		if ct.Kind != "button" && q.flags&C.V4L2_CTRL_FLAG_WRITE_ONLY == 0 {
			var v C.struct_v4l2_control
			v.id = q.id
			if xioctl(fd, C.VIDIOC_G_CTRL, unsafe.Pointer(&v)) == nil {
				ct.Value = int64(v.value)
			}
		}
		out = append(out, ct)
	}
	return out, nil
}

// setControls checks sets against the node's controls and sets them in order.
func setControls(fd int, sets []camCtrlSet) error {
	ctrls, err := listControls(fd)
	if err != nil {
		return err
	}
	vals, err := resolveControls(ctrls, sets)
	if err != nil {
		return err
	}
	for i, v := range vals {
		c := C.struct_v4l2_control{id: C.__u32(v.ID), value: C.__s32(v.Value)}
		if err := xioctl(fd, C.VIDIOC_S_CTRL, unsafe.Pointer(&c)); err != nil {
			return fmt.Errorf("--ctrl %s=%s: the driver refused it: %w", sets[i].Name, sets[i].Value, err)
		}
	}
	return nil
}
