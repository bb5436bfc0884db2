//go:build !linux

package testbed

const onLinux = false

// Do runs fn inside one side's namespace; there are none outside Linux.
func (b *Bed) Do(s Side, fn func() error) error { return ErrUnavailable }

func pidAlive(pid int) bool { return true }
