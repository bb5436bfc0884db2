package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hrvs/hrvs/render/window"
)

// The window library (Ebitengine v2.8) opens the X display in a package init, before
// main runs, and panics without one; nothing in this program can defer that. So a
// binary that links the window cannot start any command over SSH or from a service.
// build.sh therefore builds two programs from this code: bin/hrvs without the window,
// which runs every command, and bin/hrvs-window beside it, the same program with the
// window. When a recv or demo of bin/hrvs is to open the window, bin/hrvs becomes
// bin/hrvs-window (execve: same process, same arguments, signals and exit status), so
// a user always runs bin/hrvs.

// windowProgram is the name of the window build, looked for beside this executable.
const windowProgram = "hrvs-window"

// windowHandover returns the window program this process should become for a command
// whose --sink is sink ("" means the window when a display is available), or "" when
// this process runs the command itself: it links the window already, the command
// opens none, or there is no window program beside it (render.Open then says why).
func windowHandover(sink string) (string, error) {
	if window.BuiltIn() || (sink != "" && sink != "window") {
		return "", nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", nil
	}
	prog := filepath.Join(filepath.Dir(exe), windowProgram)
	if st, err := os.Stat(prog); err != nil || st.IsDir() {
		return "", nil
	}
	if !window.HasDisplay() {
		if sink == "window" {
			return "", fmt.Errorf("--sink window: %w", window.ErrNoDisplay)
		}
		return "", nil // the default sink is null without a display
	}
	return prog, nil
}

// becomeWindowProgram replaces this process with prog running this process's own
// command line; it returns only if that fails. It must come before the command does
// anything (opens a socket, pairs), since the window program starts it over.
func becomeWindowProgram(prog string) error {
	argv := append([]string{prog}, os.Args[1:]...)
	err := syscall.Exec(prog, argv, os.Environ())
	return fmt.Errorf("starting the window program %s: %w", prog, err)
}
