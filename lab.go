package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hrvs/hrvs/internal/cli"
)

// labBinary is the name of the lab's own binary (cmd/hrvs-lab): the product never links the
// benchmarks and the relay, it runs them.
const labBinary = "hrvs-lab"

// labCommand is a command of the lab binary: hrvs runs `hrvs-lab NAME args...`, which
// parses the flags and prints the help itself.
func labCommand(name, usageLine, short string) *cli.Command {
	return &cli.Command{Name: name, UsageLine: usageLine, Short: short, RawArgs: true,
		Run: func(ctx context.Context, env *cli.Env) error {
			return runLab(ctx, append([]string{name}, env.Args...), env.Stdout, env.Stderr)
		}}
}

// runLab runs `hrvs-lab args...`: the one beside this executable first, then the one on
// PATH. The lab's own exit status comes back as a *cli.ExitError: it has said why.
func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := findLab()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Args[0] = "hrvs" // the lab names itself as called: its help and errors say "hrvs relay"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return &cli.ExitError{Code: ee.ExitCode()}
	default:
		return fmt.Errorf("running %s: %w", path, err)
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
