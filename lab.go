package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// labBinary is the name of the lab's own binary (cmd/hrvs-lab): the product never links the
// benchmarks and the relay, it runs them.
const labBinary = "hrvs-lab"

// runLab runs `hrvs-lab args...` for the lab's commands (bench, bench-impair, relay): the one
// beside this executable first, then the one on PATH. It returns the lab's exit status.
func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	path, err := findLab()
	if err != nil {
		fmt.Fprintf(stderr, "hrvs %s: %v\n", args[0], err)
		return 1
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return ee.ExitCode()
	default:
		fmt.Fprintf(stderr, "hrvs %s: running %s: %v\n", args[0], path, err)
		return 1
	}
}

func findLab() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), labBinary)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(labBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("this command is in the lab binary %s, found neither beside hrvs nor on PATH (./build.sh builds bin/%s)", labBinary, labBinary)
}
