//go:build !(cgo && window)

package window

import (
	"context"

	"github.com/hrvs/hrvs/net/receiver"
)

const builtIn = false

// Window is a stub in builds without the window: New always fails.
type Window struct{}

// New returns ErrUnavailable: this build has no window.
func New(Options) (*Window, error) { return nil, ErrUnavailable }

func (*Window) Show(*receiver.Frame) error { return ErrUnavailable }
func (*Window) Close() error               { return nil }
func (*Window) Run(context.Context) error  { return ErrUnavailable }
