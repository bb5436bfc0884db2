#!/usr/bin/env bash
# build.sh: build, cross-build and test HRVS.
#   ./build.sh          build ./bin/hrvs (and the lab's bin/hrvs-lab) for this machine: with the window when gcc and the X11
#                       headers are there (that binary needs a display), headless otherwise
#   ./build.sh cross    static headless binaries for linux amd64, arm64 and armv7 into dist/
#   ./build.sh test     install what the tests need (Debian packages) and run the whole suite
#   ./build.sh demo     build, then stream the test pattern to a local receiver for 10 s
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
# plasma-workspace-wallpapers has the photographs natural-content tests and clips use.
TEST_PACKAGES=(
	gcc libc6-dev pkg-config file git ffmpeg
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

build() {
	need_go
	mkdir -p bin
	if has_window_deps; then
		CGO_ENABLED=1 go build -tags window -trimpath -ldflags "$LDFLAGS" -o bin/hrvs .
		CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o bin/hrvs-lab ./cmd/hrvs-lab
		echo "built bin/hrvs ($VERSION) with the window (it needs a display; ./build.sh cross makes headless ones)"
	else
		CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o bin/hrvs .
		CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o bin/hrvs-lab ./cmd/hrvs-lab
		echo "built bin/hrvs ($VERSION), headless: for the window install gcc libx11-dev libxrandr-dev libxcursor-dev libxinerama-dev libxi-dev libxxf86vm-dev libgl1-mesa-dev"
	fi
}

# cross: static headless binaries. With Debian's cross C compilers present they are
# static cgo builds, so cameras (go4vl, cgo) work on the Pi; without them they are
# CGO_ENABLED=0 builds that stream files and the pattern but not cameras.
cross() {
	need_go
	mkdir -p dist
	local targets=("amd64::gcc:hrvs-linux-amd64" "arm64::aarch64-linux-gnu-gcc:hrvs-linux-arm64" "arm:7:arm-linux-gnueabihf-gcc:hrvs-linux-armv7")
	for t in "${targets[@]}"; do
		IFS=: read -r arch arm cc out <<<"$t"
		if command -v "$cc" >/dev/null; then
			CC=$cc CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=$arm go build -trimpath -tags netgo,osusergo \
				-ldflags "$LDFLAGS -linkmode external -extldflags -static" -o "dist/$out" .
		else
			echo "build.sh: $cc not found: dist/$out is built without cgo and cannot open cameras (apt-get install gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf)" >&2
			CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm go build -trimpath -ldflags "$LDFLAGS" -o "dist/$out" .
		fi
		file "dist/$out"
	done
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
	cross
	CGO_ENABLED=0 go build -o /dev/null .
	echo "== short fuzz runs"
	# Budgets are execution counts, not durations: with -fuzztime 10s, Go 1.26's fuzz
	# coordinator can report "context deadline exceeded" at the deadline on a loaded
	# machine without any failing input (go.dev/issue/75804, fixed in Go 1.27).
	# The counts take 5-10 s each on a 2-core VM.
	fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$3" -fuzzminimizetime 100x "$1"; }
	fuzz ./net/wire FuzzHeader 250000x
	fuzz ./net/wire FuzzControl 100000x
	fuzz ./net/wire FuzzRebuilt 100000x
	fuzz ./net/tile FuzzDecodeTile 100000x
	fuzz ./internal/fastjpeg FuzzDecodeScan 50000x
	fuzz ./internal/fastjpeg FuzzRoundTrip 15000x
	for target in FuzzY4M FuzzJPEGSplitter FuzzJPEGLayout; do
		fuzz ./capture "$target" 20000x
	done
	echo "== tests (race detector, under Xvfb for the window tests)"
	HRVS_DISPLAY_TESTS=1 xvfb-run -a -s "-screen 0 1920x1080x24" go test -race -tags window -count=1 -timeout 20m ./...
}

case "${1:-build}" in
	build) build ;;
	cross) cross ;;
	test) test_all ;;
	demo)
		build
		# The window build needs a display; without one, run the demo headless.
		if [ -n "${DISPLAY:-}" ] || ! has_window_deps; then
			./bin/hrvs demo --duration "${2:-10s}"
		else
			CGO_ENABLED=0 go build -trimpath -o bin/hrvs-headless . && ./bin/hrvs-headless demo --duration "${2:-10s}"
		fi
		;;
	*) echo "usage: ./build.sh [build|cross|test|demo]" >&2; exit 2 ;;
esac
