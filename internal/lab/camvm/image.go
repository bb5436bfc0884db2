// Package camvm boots Debian's own kernel under QEMU (pure emulation, no KVM
// needed) with the vivid and v4l2loopback video drivers, so the camera code is
// tested on real V4L2 drivers on a machine without a camera. A guest agent runs the
// commands a test sends over QEMU user networking; the host side receives what the
// guest's hrvs sends and asserts it.
//
// It is lab code: only tests import it, and nothing in it is linked into hrvs.
package camvm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Image is a bootable kernel and the initramfs built for it.
type Image struct {
	Kernel, Initrd string
	KernelVersion  string
}

// What the image needs from the host; build.sh's TEST_PACKAGES installs them:
// linux-image-amd64, linux-headers-amd64, v4l2loopback-dkms, busybox-static,
// qemu-system-x86, xz-utils, make, gcc.
const (
	busyboxPath  = "/bin/busybox"
	loopbackSrcs = "/usr/src/v4l2loopback-*"
)

// Module is a kernel module to load at boot, with its parameters.
type Module struct {
	Name   string // as in modules.dep, without .ko: "vivid", "e1000"
	Params string
}

// BootModules are loaded by the guest's init in this order (each after its
// dependencies). vivid makes /dev/video0 (capture), video1 (output), video2 and
// video3 (metadata capture and output); v4l2loopback makes /dev/video10.
var BootModules = []Module{
	{Name: "e1000"},
	{Name: "vivid", Params: "n_devs=1"},
	{Name: "v4l2loopback", Params: "video_nr=10 card_label=hrvs-loopback exclusive_caps=1"},
}

// Build writes an initramfs into dir with busybox, the modules named (and what
// they depend on), the guest agent and hrvs (a static cgo build), and returns the
// image to boot. modRoot is the hrvs module's root directory.
func Build(dir, modRoot string, mods []Module) (Image, error) {
	kver, kernel, err := findKernel()
	if err != nil {
		return Image{}, err
	}
	img := Image{Kernel: kernel, KernelVersion: kver, Initrd: filepath.Join(dir, "initrd.cpio")}
	hrvs := filepath.Join(dir, "hrvs")
	if err := goBuild(modRoot, hrvs, ".", true); err != nil {
		return img, err
	}
	agent := filepath.Join(dir, "agent")
	if err := goBuild(modRoot, agent, "./internal/lab/camvm/agent", false); err != nil {
		return img, err
	}
	f, err := os.Create(img.Initrd)
	if err != nil {
		return img, err
	}
	defer f.Close()
	cw := newCPIO(f)
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "tmp", "lib", "lib/modules", "usr", "usr/bin", "usr/sbin"} {
		cw.dir(d)
	}
	cw.charDev("dev/console", 5, 1)
	if err := cw.copyFile("bin/busybox", busyboxPath); err != nil {
		return img, err
	}
	if err := cw.copyFile("hrvs", hrvs); err != nil {
		return img, err
	}
	if err := cw.copyFile("agent", agent); err != nil {
		return img, err
	}
	load, err := addModules(cw, kver, mods)
	if err != nil {
		return img, err
	}
	cw.file("init", 0o755, []byte(initScript(load)))
	if err := cw.close(); err != nil {
		return img, err
	}
	return img, f.Close()
}

// initScript mounts what the agent needs, loads the modules, brings up QEMU's
// user network (10.0.2.15, gateway 10.0.2.2) and hands over to the agent.
func initScript(load []string) string {
	var b strings.Builder
	b.WriteString(`#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
`)
	for _, l := range load {
		fmt.Fprintf(&b, "insmod %s || echo 'init: insmod %s failed'\n", l, l)
	}
	b.WriteString(`ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo init: modules loaded, network up
/agent serve
echo "init: agent ended ($?)"
poweroff -f
`)
	return b.String()
}

// findKernel picks the newest /boot/vmlinuz-VERSION whose modules include vivid.
func findKernel() (version, path string, err error) {
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Sort(sort.Reverse(sort.StringSlice(kernels)))
	for _, k := range kernels {
		v := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		if m, _ := filepath.Glob(filepath.Join("/lib/modules", v, "kernel/drivers/media/test-drivers/vivid/vivid.ko*")); len(m) > 0 {
			return v, k, nil
		}
	}
	return "", "", fmt.Errorf("no /boot/vmlinuz-* with the vivid module (apt-get install linux-image-amd64; found %v)", kernels)
}

// addModules puts the modules and their dependencies into the image, decompressed
// (busybox insmod takes plain .ko), and returns the insmod lines in load order.
func addModules(cw *cpioWriter, kver string, mods []Module) ([]string, error) {
	base := filepath.Join("/lib/modules", kver)
	deps, err := readModulesDep(filepath.Join(base, "modules.dep"))
	if err != nil {
		return nil, err
	}
	byName := map[string]string{} // module name -> path under base
	for p := range deps {
		byName[modName(p)] = p
	}
	var load []string
	done := map[string]bool{}
	var add func(path, params string) error
	add = func(path, params string) error {
		if done[path] {
			return nil
		}
		done[path] = true
		// modules.dep lists a module's dependencies with the one loaded last first.
		ds := deps[path]
		for i := len(ds) - 1; i >= 0; i-- {
			if err := add(ds[i], ""); err != nil {
				return err
			}
		}
		file := path // the v4l2loopback built here
		if !filepath.IsAbs(path) {
			file = filepath.Join(base, path) // modules.dep's paths are relative to it
		}
		data, err := readModule(file)
		if err != nil {
			return err
		}
		name := "lib/modules/" + modName(path) + ".ko"
		cw.file(name, 0o644, data)
		load = append(load, strings.TrimSpace("/"+name+" "+params))
		return nil
	}
	for _, m := range mods {
		if m.Name == "v4l2loopback" {
			ko, err := loopbackModule(kver)
			if err != nil {
				return nil, err
			}
			for _, d := range []string{"mc", "videodev"} {
				if err := add(byName[d], ""); err != nil {
					return nil, err
				}
			}
			if err := add(ko, m.Params); err != nil {
				return nil, err
			}
			continue
		}
		p, ok := byName[m.Name]
		if !ok {
			return nil, fmt.Errorf("module %s is not in %s/modules.dep", m.Name, base)
		}
		if err := add(p, m.Params); err != nil {
			return nil, err
		}
	}
	return load, nil
}

func modName(path string) string {
	n := filepath.Base(path)
	n = strings.TrimSuffix(n, ".xz")
	n = strings.TrimSuffix(n, ".zst")
	n = strings.TrimSuffix(n, ".ko")
	return strings.ReplaceAll(n, "-", "_")
}

func readModulesDep(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps, sc.Err()
}

// readModule returns a module's plain ELF bytes, decompressing .ko.xz with xz.
func readModule(path string) ([]byte, error) {
	if strings.HasSuffix(path, ".xz") {
		out, err := exec.Command("xz", "-dc", path).Output()
		if err != nil {
			return nil, fmt.Errorf("xz -dc %s (apt-get install xz-utils): %w", path, err)
		}
		return out, nil
	}
	return os.ReadFile(path)
}

// loopbackModule builds v4l2loopback from Debian's v4l2loopback-dkms source
// against the kernel's headers, once per (source, kernel) pair: the result is
// kept in the user's cache directory.
func loopbackModule(kver string) (string, error) {
	srcs, _ := filepath.Glob(loopbackSrcs)
	if len(srcs) == 0 {
		return "", fmt.Errorf("no %s (apt-get install v4l2loopback-dkms)", loopbackSrcs)
	}
	sort.Strings(srcs)
	src := srcs[len(srcs)-1]
	headers := filepath.Join("/lib/modules", kver, "build")
	if _, err := os.Stat(filepath.Join(headers, "Makefile")); err != nil {
		return "", fmt.Errorf("no kernel headers for %s at %s (apt-get install linux-headers-amd64)", kver, headers)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "hrvs-camvm", filepath.Base(src)+"-"+kver)
	ko := filepath.Join(dir, "v4l2loopback.ko")
	if _, err := os.Stat(ko); err == nil {
		return ko, nil
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	for _, name := range []string{"Makefile", "v4l2loopback.c", "v4l2loopback_formats.h"} {
		if err := copyPath(filepath.Join(tmp, name), filepath.Join(src, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	var log bytes.Buffer
	cmd := exec.Command("make", "-C", headers, "M="+tmp, "modules")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building v4l2loopback against %s: %w\n%s", headers, err, log.String())
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return ko, nil
}

func copyPath(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// goBuild builds pkg into out for linux/amd64: hrvs statically with cgo (go4vl
// needs it), the agent without cgo.
func goBuild(modRoot, out, pkg string, cgo bool) error {
	args := []string{"build", "-trimpath", "-o", out}
	env := append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
	if cgo {
		args = append(args, "-tags", "netgo,osusergo", "-ldflags", "-linkmode external -extldflags -static")
		env = append(env, "CGO_ENABLED=1")
	} else {
		env = append(env, "CGO_ENABLED=0")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goCmd, append(args, pkg)...)
	cmd.Dir, cmd.Env = modRoot, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
