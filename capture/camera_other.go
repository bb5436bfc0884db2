//go:build !(linux && cgo)

package capture

import "log/slog"

// openV4L2 cannot open cameras in this build: go4vl needs cgo and Linux headers.
func openV4L2(path string, req camRequest, log *slog.Logger) (camDevice, error) {
	return nil, errCameraNeedsCgo
}

// listV4L2 cannot list cameras in this build.
func listV4L2() ([]camDesc, error) { return nil, errCameraNeedsCgo }
