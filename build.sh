#!/usr/bin/env bash
# build.sh: build, cross-build and test HRVS.
#   ./build.sh          build ./bin/hrvs for this machine (every command, no display needed),
#                       ./bin/hrvs-window beside it when gcc and the X11 headers are there, and
#                       the lab's ./bin/hrvs-lab (bench, bench-impair, relay)
#   ./build.sh cross    static headless binaries for linux amd64, arm64 and armv7 into dist/
#   ./build.sh test     install what the tests need (Debian packages) and run the whole suite
#   ./build.sh demo     build, then stream the test pattern to a local receiver for 10 s
#   ./build.sh test-loaded [N]   the test suite N times (3) while two busy loops hold both cores
#   ./build.sh fresh-root [DIR]  (root) run demo and test on a new Debian 12 root in DIR
#                       (docs/FRESH-MACHINE.md)
set -euo pipefail
cd "$(dirname "$0")"

export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
VERSION=$(git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS="-s -w -X main.version=$VERSION"

need_go() {
	command -v go >/dev/null || { echo "build.sh: Go 1.26 is needed: https://go.dev/doc/install (or /usr/local/go/bin on PATH)" >&2; exit 1; }
}

# Debian packages the test suite uses: ffmpeg makes and checks clips, xvfb and Mesa run
# the window for real, the X11 -dev packages build it, chromium checks the browser view,
# iproute2/nftables build the impairment testbed, libjpeg-turbo-progs cross-checks JPEG,
# plasma-workspace-wallpapers has the photographs natural-content tests and clips use,
# ca-certificates lets Go fetch modules from the module proxy over HTTPS.
TEST_PACKAGES=(
	ca-certificates gcc libc6-dev pkg-config file git ffmpeg
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user
	xvfb xauth x11-apps x11-utils xdotool imagemagick libgl1-mesa-dri libgl1-mesa-dev
	libx11-dev libxrandr-dev libxcursor-dev libxinerama-dev libxi-dev libxxf86vm-dev
	chromium iproute2 nftables libjpeg-turbo-progs plasma-workspace-wallpapers
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
	# internal/lab/camvm boots Debian's kernel under QEMU with vivid and a v4l2loopback built here
	linux-image-amd64 linux-headers-amd64 v4l2loopback-dkms busybox-static qemu-system-x86 xz-utils make
)

install_packages() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "build.sh: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# has_window_deps: Ebitengine's window needs cgo and the X11/GL headers at build time.
has_window_deps() {
	command -v gcc >/dev/null && [ -e /usr/include/X11/Xlib.h ] && [ -e /usr/include/X11/extensions/Xrandr.h ] && [ -e /usr/include/GL/gl.h ]
}

# build: bin/hrvs runs every command without a display. With gcc and the X11 headers
# there is also bin/hrvs-window, the same program linked with the window: Ebitengine
# opens the display before main runs, so that binary cannot start any command without
# one, and bin/hrvs hands a recv or demo that opens the window over to it (windowexec.go).
build() {
	need_go
	mkdir -p bin
	if has_window_deps; then
		CGO_ENABLED=1 go build -trimpath -ldflags "$LDFLAGS" -o bin/hrvs .
		CGO_ENABLED=1 go build -tags window -trimpath -ldflags "$LDFLAGS" -o bin/hrvs-window .
		CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o bin/hrvs-lab ./cmd/hrvs-lab
		echo "built bin/hrvs ($VERSION), bin/hrvs-window and bin/hrvs-lab: run bin/hrvs for everything; it starts bin/hrvs-window for the window"
	else
		CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o bin/hrvs .
		CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o bin/hrvs-lab ./cmd/hrvs-lab
		rm -f bin/hrvs-window
		echo "built bin/hrvs ($VERSION), headless: for the window install gcc libx11-dev libxrandr-dev libxcursor-dev libxinerama-dev libxi-dev libxxf86vm-dev libgl1-mesa-dev"
	fi
}

# cross: static headless binaries. Each target is a static cgo build (cameras need cgo:
# go4vl) when its cross C compiler can build and statically link a small cgo program,
# and a CGO_ENABLED=0 build (files and the pattern, no cameras) otherwise; one line per
# target says which and why. Finding the compiler on PATH is not enough: Debian's cross
# compilers only recommend their C libraries, and without them every cgo build fails.
# With "require-cgo" (what ./build.sh test uses, after installing the compilers) a
# target that cannot have cgo is an error instead of a fallback.
cross() {
	need_go
	mkdir -p dist
	local require=${1:-}
	local targets=("amd64::gcc:hrvs-linux-amd64" "arm64::aarch64-linux-gnu-gcc:hrvs-linux-arm64" "arm:7:arm-linux-gnueabihf-gcc:hrvs-linux-armv7")
	local t arch arm cc out why
	for t in "${targets[@]}"; do
		IFS=: read -r arch arm cc out <<<"$t"
		if why=$(static_cgo_works "$cc" "$arch" "$arm"); then
			echo "dist/$out: static cgo build (cameras work): $why"
			CC=$cc CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=$arm go build -trimpath -tags netgo,osusergo \
				-ldflags "$LDFLAGS -linkmode external -extldflags -static" -o "dist/$out" .
		else
			[ "$require" = require-cgo ] && { echo "build.sh: dist/$out needs a static cgo build, but $why" >&2; exit 1; }
			echo "dist/$out: pure-Go build (no cameras): $why; apt-get install ${CROSS_PACKAGES[$arch]} for cameras"
			CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm go build -trimpath -ldflags "$LDFLAGS" -o "dist/$out" .
		fi
		file "dist/$out"
	done
}

# The Debian packages that give each target a static cgo build.
declare -A CROSS_PACKAGES=(
	[amd64]="gcc libc6-dev"
	[arm64]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
	[arm]="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
)

# static_cgo_works CC GOARCH GOARM: builds a cgo program that calls into the C library,
# linked statically as cross does, and prints why it can or cannot (the compiler's
# first error line).
static_cgo_works() {
	local cc=$1 arch=$2 arm=$3 dir err rc=0
	if ! command -v "$cc" >/dev/null; then
		echo "$cc is not installed"
		return 1
	fi
	dir=$(mktemp -d)
	printf 'module cgoprobe\n\ngo 1.26\n' >"$dir/go.mod"
	cat >"$dir/main.go" <<'PROBE'
package main

// #include <stdio.h>
// #include <stdlib.h>
// static int probe(void) { char b[8]; return snprintf(b, sizeof b, "%d", abs(-42)); }
import "C"

func main() { println(C.probe()) }
PROBE
	err=$(cd "$dir" && CC=$cc CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=$arm GOFLAGS= \
		go build -ldflags "-linkmode external -extldflags -static" -o probe . 2>&1) || rc=$?
	rm -rf "$dir"
	if [ $rc -ne 0 ]; then
		echo "$cc cannot build a static cgo program: $(grep -m1 -iE 'error|cannot find|not found' <<<"$err" || head -n1 <<<"$err")"
		return 1
	fi
	echo "$cc built and statically linked a cgo test program"
}

# The codec's tests that run under qemu-user for arm64: its NEON kernels and every
# path that uses them, and re-tiling.
ARM64_CODEC_TESTS='Kernel|SIMD|IDCT|FastDCT|FastQuant|HuffCoefs|WithAndWithout|Coder|AppendScanMatches|RoundTrip|Golden|Retile|Transcode|Stacked|BitReader|Split|TableSet|Requant|Summary|Optimal|CoefFrame|DecodeTile'

# side_by_side CMD...: runs each shell command at once in the background, then prints
# each one's output in turn, under the command, and fails if any of them failed. For
# steps that each keep one core busy: the wall time is the longest's, not the sum.
side_by_side() {
	local dir i rc=0 r pids=()
	dir=$(mktemp -d)
	for i in $(seq 0 $(($# - 1))); do
		(eval "${@:$((i + 1)):1}") >"$dir/$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		r=0
		wait "${pids[$i]}" || r=$?
		echo "-- ${@:$((i + 1)):1}"
		cat "$dir/$i"
		[ "$r" -eq 0 ] || { echo "build.sh: that failed (exit $r)" >&2; rc=1; }
	done
	rm -rf "$dir"
	[ "$rc" -eq 0 ] || exit 1
}

test_all() {
	install_packages "${TEST_PACKAGES[@]}"
	need_go
	go mod download
	echo "== gofmt, go vet"
	local unformatted
	unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
	[ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
	go vet ./...
	go vet -tags window ./...
	CGO_ENABLED=0 go vet ./...
	echo "== headless cross builds (static, cgo for cameras) and a no-cgo build"
	cross require-cgo
	CGO_ENABLED=0 go build -o /dev/null .
	echo "== short fuzz runs"
	# Budgets are execution counts, not durations: with -fuzztime 10s, Go 1.26's fuzz
	# coordinator can report "context deadline exceeded" at the deadline on a loaded
	# machine without any failing input (go.dev/issue/75804, fixed in Go 1.27).
	# The counts take 5-10 s each on a 2-core VM. Each run also links its package's
	# instrumented test binary first on one core (1-5 s, the codec's the longest), so
	# the runs go in two lanes side by side, the codec's and everything else's: one
	# lane links while the other fuzzes, and the counts stay the same.
	fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$3" -fuzzminimizetime 100x "$1"; }
	# fuzz_each PKG:TARGET:COUNT...: each run in turn, stopping at the first failure.
	fuzz_each() {
		local entry pkg name count
		for entry in "$@"; do
			IFS=: read -r pkg name count <<<"$entry"
			fuzz "$pkg" "$name" "$count" || return 1
		done
	}
	local fuzz_codec=(./internal/fastjpeg:FuzzDecodeScan:50000x ./internal/fastjpeg:FuzzRoundTrip:15000x
		./internal/fastjpeg:FuzzCoefFrame:20000x ./internal/fastjpeg:FuzzDecodeTile:20000x
		./internal/fastjpeg:FuzzParseTables:20000x ./internal/fastjpeg:FuzzKernels:50000x
		./internal/fastjpeg:FuzzSplit:20000x ./internal/fastjpeg:FuzzBitReader:50000x
		./internal/fastjpeg:FuzzHuffCoefs:50000x ./internal/fastjpeg:FuzzFastDCT:50000x
		./internal/fastjpeg:FuzzIDCTFast:50000x ./internal/fastjpeg:FuzzDecodeByMCU:20000x
		./internal/fastjpeg:FuzzCodeBlocks:50000x ./internal/fastjpeg:FuzzCoder:20000x
		./render/web:FuzzTileViewMessages:100000x) # the tile view here: the lanes' times even out
	local fuzz_rest=(./net/wire:FuzzHeader:250000x ./net/wire:FuzzControl:100000x ./net/wire:FuzzRebuilt:100000x
		./net/wire:FuzzAuthMessages:50000x ./net/wire:FuzzTableDatagram:100000x ./net/wire:FuzzParseNotice:100000x
		./net/wire:FuzzDrops:100000x ./net/udp:FuzzGroSize:100000x ./net/tile:FuzzDecodeTile:100000x
		./net/fec:FuzzDecoder:20000x ./net/seal:FuzzOpen:50000x ./net/pair:FuzzRead:50000x
		./net/discover:FuzzParseTXT:50000x ./render/rtpjpeg:FuzzDepacketize:50000x ./render/rtpjpeg:FuzzPacketize:50000x
		./capture:FuzzY4M:20000x ./capture:FuzzJPEGSplitter:20000x ./capture:FuzzJPEGLayout:20000x
		./capture:FuzzFrameCRCLine:20000x ./capture:FuzzParseControls:20000x
		./internal/units:FuzzParseBitrate:10000x ./internal/units:FuzzParseSize:10000x
		./internal/units:FuzzParseFrameRate:10000x ./internal/units:FuzzParseProbability:10000x
		./internal/units:FuzzParseBytes:10000x)
	side_by_side "fuzz_each ${fuzz_codec[*]}" "fuzz_each ${fuzz_rest[*]}"
	echo "== side by side: arm64 under qemu-user (the wire, parity and AEAD code, the codec's NEON kernels and re-tiling: what a Raspberry Pi runs), and the codec without the race detector (this CPU's kernels, and the generic pure-Go path as built for other CPUs)"
	# Each of these runs keeps one core busy, so they share the two. The codec's
	# exhaustive sweeps (every fast quantization table, every tile grid and frame
	# variant) run whole in the amd64 run here; under qemu (HRVS_TEST_SCALE=small) and
	# under -race (the last step) they take a sample, as the race detector finds
	# nothing in the codec's single-goroutine tests and slows them ten times over.
	# The same holds for the sender's two codec measurements run here without -race,
	# and for the RTP sink's shrinker (TestShrink: 4K and 1440p pictures).
	side_by_side \
		"HRVS_TEST_SCALE=small GOARCH=arm64 CGO_ENABLED=0 go test -count=1 -exec qemu-aarch64 -run '$ARM64_CODEC_TESTS' ./internal/fastjpeg" \
		"go test -count=1 ./internal/fastjpeg && go test -count=1 -run '^(TestHuffmanTablesOverClips|TestChangeTestAgreesWithPlainSums)\$' ./net/sender" \
		"go test -count=1 -tags purego ./internal/fastjpeg" \
		"GOARCH=arm64 CGO_ENABLED=0 go test -count=1 -exec qemu-aarch64 ./net/wire ./net/seal ./net/pair ./net/fec && go test -count=1 -run '^TestShrink\$' ./render/rtpjpeg"
	echo "== tests (race detector, under Xvfb for the window tests)"
	HRVS_DISPLAY_TESTS=1 xvfb-run -a -s "-screen 0 1920x1080x24" go test -race -tags window -count=1 -timeout 40m ./...
}

# fresh_root DIR: the README's two commands on a brand-new Debian 12 machine with only Go
# installed. It debootstraps a minimal bookworm root into DIR from this machine's Debian
# mirror, mounts /proc, /sys, /dev, /dev/pts, /dev/shm and tmpfs /run and /tmp in it,
# bind-mounts /usr/local/go read-only, installs git and ca-certificates (what getting the
# code takes), clones the current commit, and runs ./build.sh demo and ./build.sh test
# inside with chroot as root, timing each step. Everything is unmounted on every exit
# path. docs/FRESH-MACHINE.md says what it proves.
fresh_root() {
	local dir=${1:-/var/tmp/hrvs-fresh-root}
	[ "$(id -u)" -eq 0 ] || { echo "build.sh fresh-root: needs root (debootstrap, mount, chroot)" >&2; exit 1; }
	command -v debootstrap >/dev/null || { echo "build.sh fresh-root: apt-get install debootstrap" >&2; exit 1; }
	[ -x /usr/local/go/bin/go ] || { echo "build.sh fresh-root: Go is expected in /usr/local/go" >&2; exit 1; }
	if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
		echo "build.sh fresh-root: $dir is not empty; remove it first (nothing of this script stays mounted there)" >&2
		exit 1
	fi
	local commit gitdir mirror sources
	commit=$(git rev-parse HEAD)
	gitdir=$(realpath "$(git rev-parse --git-common-dir)")
	git diff --quiet HEAD 2>/dev/null || echo "build.sh fresh-root: uncommitted changes are left out: the root gets commit $commit"
	read -r mirror sources < <(debian_mirror)
	mkdir -p "$dir"
	dir=$(realpath "$dir")
	FRESH_DIR=$dir
	FRESH_TIMES=()
	trap 'fresh_root_cleanup "'"$dir"'"' EXIT
	trap 'exit 130' INT TERM

	echo "== fresh root in $dir from $mirror, commit $commit"
	timed "debootstrap --variant=minbase bookworm" debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 ||
		{ tail -n 20 "$dir.debootstrap.log" >&2; return 1; }
	if [ -n "$sources" ]; then # the machine's own Debian sources (updates, security)
		cp "$sources" "$dir/etc/apt/sources.list.d/" && rm -f "$dir/etc/apt/sources.list"
	fi
	cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
	# The root shares this machine's network: if that needs local CAs (a TLS-inspecting
	# proxy's), the root gets them too; ca-certificates adds them when it is installed.
	if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
		mkdir -p "$dir/usr/local/share/ca-certificates"
		cp -r /usr/local/share/ca-certificates/. "$dir/usr/local/share/ca-certificates/"
	fi
	[ -s "$dir/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
	# No daemon starts inside the root when a package is installed (it would outlive the run).
	printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d" && chmod +x "$dir/usr/sbin/policy-rc.d"

	# DIR becomes a mount point of its own, as / is on a machine: ip netns (the testbed)
	# runs "mount --make-rslave /" in the namespaces it enters, which fails on a plain directory.
	mount --bind "$dir" "$dir" && mount --make-private "$dir"
	mount -t proc proc "$dir/proc"
	mount -t sysfs sysfs "$dir/sys" 2>/dev/null || { mount --rbind /sys "$dir/sys" && mount --make-rslave "$dir/sys"; }
	mount --bind /dev "$dir/dev" && mount --make-private "$dir/dev"
	mount --bind /dev/pts "$dir/dev/pts" && mount --make-private "$dir/dev/pts"
	mount -t tmpfs -o mode=1777 tmpfs "$dir/dev/shm"
	mount -t tmpfs -o mode=0755 tmpfs "$dir/run"
	mount -t tmpfs -o mode=1777 tmpfs "$dir/tmp"
	mkdir -p "$dir/usr/local/go" "$dir/mnt/hrvs.git"
	mount --bind /usr/local/go "$dir/usr/local/go" && mount --make-private "$dir/usr/local/go" && mount -o remount,bind,ro "$dir/usr/local/go"
	mount --bind "$gitdir" "$dir/mnt/hrvs.git" && mount --make-private "$dir/mnt/hrvs.git" && mount -o remount,bind,ro "$dir/mnt/hrvs.git"

	timed "get the code (apt-get install git ca-certificates; git clone)" in_root "apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null &&
		git clone -q --no-local /mnt/hrvs.git /root/hrvs && git -C /root/hrvs checkout -q --detach $commit" || return 1
	umount "$dir/mnt/hrvs.git"
	timed "./build.sh demo" in_root "cd /root/hrvs && ./build.sh demo" || return 1
	timed "./build.sh test" in_root "cd /root/hrvs && ./build.sh test" || return 1
	echo "== fresh root: README's two commands passed"
}

# debian_mirror prints the URI of this machine's Debian mirror for bookworm and the
# sources file naming it (deb822 .sources first, then one-line .list files).
debian_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		uri=$(awk -v RS= '{
			uri = ""; ok = 0; off = 0; n = split($0, L, "\n")
			for (i = 1; i <= n; i++) {
				if (L[i] ~ /^URIs:/) { split(L[i], a, /[ \t]+/); uri = a[2] }
				if (L[i] ~ /^Enabled:[ \t]*no/) off = 1
				if (L[i] ~ /^Suites:/) { m = split(L[i], s, /[ \t]+/); for (j = 2; j <= m; j++) if (s[j] == "bookworm") ok = 1 }
			}
			if (ok && !off && uri != "") { print uri; exit }
		}' "$f")
		[ -n "$uri" ] && { echo "$uri $f"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		uri=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^(https?|ftp):/ && $(i + 1) == "bookworm") { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri $f"; return; }
	done
	echo "http://deb.debian.org/debian"
}

# in_root runs a shell command in the fresh root as a new root login would: a clean
# environment, Debian's default PATH (no Go on it: build.sh finds /usr/local/go/bin).
in_root() {
	env -i HOME=/root TERM="${TERM:-dumb}" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		chroot "$FRESH_DIR" /bin/bash -c "$1"
}

# timed NAME CMD...: runs CMD and keeps NAME's wall time and result for the summary.
timed() {
	local name=$1 start rc=0
	shift
	echo "== $name"
	start=$(date +%s)
	"$@" || rc=$?
	FRESH_TIMES+=("$(printf '%6ds  %s  %s' $(($(date +%s) - start)) "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")" "$name")")
	return $rc
}

# fresh_root_cleanup DIR: stops what still runs in the root (Xvfb, a browser), unmounts
# everything under DIR, deepest first, and prints the wall times.
fresh_root_cleanup() {
	local dir=$1 p m pids=()
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] && pids+=("${p#/proc/}")
	done
	if [ ${#pids[@]} -gt 0 ]; then
		echo "build.sh fresh-root: stopping processes left in the root: ${pids[*]}"
		kill -TERM "${pids[@]}" 2>/dev/null || true
		sleep 2
		kill -KILL "${pids[@]}" 2>/dev/null || true
	fi
	awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || echo "build.sh fresh-root: cannot unmount $m" >&2
	done
	if awk -v d="$dir" 'index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		echo "build.sh fresh-root: something is still mounted under $dir" >&2
	fi
	echo "== fresh root wall times (machine load now: $(cut -d' ' -f1-3 /proc/loadavg))"
	printf '%s\n' "${FRESH_TIMES[@]}"
	echo "the root stays in $dir (nothing mounted): rm -rf $dir $dir.debootstrap.log to remove it"
}

# test_loaded N: ./build.sh test N times in a row in a clean clone of the current commit
# while two busy loops hold both cores, printing each run's wall time, exit status and the
# load average: the suite must pass on a busy machine (issue 17). Logs stay in the clone's
# parent folder.
test_loaded() {
	local n=${1:-3} dir pids=() r s rc
	dir=$(mktemp -d /tmp/hrvs-loaded.XXXX)
	git clone -q . "$dir/hrvs"
	for _ in 1 2; do (while :; do :; done) & pids+=($!); done
	# The pids are written into the trap now: it runs at the script's exit, after this
	# function's locals are gone.
	trap "kill ${pids[*]} 2>/dev/null || true" EXIT
	for r in $(seq 1 "$n"); do
		s=$(date +%s)
		(cd "$dir/hrvs" && ./build.sh test) >"$dir/run$r.log" 2>&1 && rc=0 || rc=$?
		echo "run $r: exit $rc, $(($(date +%s) - s)) s, load $(cut -d' ' -f1-3 /proc/loadavg), log $dir/run$r.log"
		[ "$rc" -eq 0 ] || exit "$rc"
	done
}

case "${1:-build}" in
	build) build ;;
	cross) cross ;;
	test) test_all ;;
	demo)
		build
		./bin/hrvs demo --duration "${2:-10s}"
		;;
	fresh-root)
		fresh_root "${2:-/var/tmp/hrvs-fresh-root}"
		;;
	test-loaded) test_loaded "${2:-3}" ;;
	*) echo "usage: ./build.sh [build|cross|test|demo|fresh-root [DIR]|test-loaded [N]]" >&2; exit 2 ;;
esac
