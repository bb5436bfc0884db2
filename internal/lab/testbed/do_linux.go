//go:build linux

package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

const onLinux = true

// Do runs fn on an OS thread that has entered one side's network namespace. Sockets fn opens
// belong to that namespace for their whole life and may be used from any goroutine afterwards;
// goroutines fn starts do not run in the namespace. The thread is never returned to the Go
// scheduler: it ends when fn returns, so no other goroutine ever runs in the namespace by
// accident.
func (b *Bed) Do(s Side, fn func() error) error {
	f, err := os.Open(filepath.Join(netnsDir, b.ns[s]))
	if err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the runtime discards the thread when this goroutine exits
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("testbed: entering %s: %w", b.ns[s], err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func pidAlive(pid int) bool {
	return !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}
