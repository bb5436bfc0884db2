// Package cli runs a program made of subcommands, after cmd/go's base.Command: every
// subcommand is one Command value (name, usage line, help, flags, check, run), and Main
// dispatches through the table, prints help, and turns errors into exit statuses: 0 for
// success and --help, 2 with a one-line reason for a usage error, 1 for a runtime failure.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
)

// Env is what a command runs with.
type Env struct {
	Stdin          io.Reader // answers to prompts (pairing's code confirmation)
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	// Args are the words after the command's name: the unparsed command line for a
	// RawArgs command, the flags' leftovers (none) otherwise.
	Args []string
}

// Command is one subcommand.
type Command struct {
	Name      string // the word that selects it, like "send"
	UsageLine string // its synopsis without the program's name, like "send --to HOST:PORT [flags]"
	Short     string // one line for the program's command list
	Long      string // what --help prints above the flags: what it does, in a few lines

	// Flags declares the command's flags on fs; nil for none. Values it binds are read
	// by Check and Run.
	Flags func(fs *flag.FlagSet)
	// Check validates the parsed flags, the one place a command's configuration is
	// checked; nil for nothing to check. Its error is a usage error (exit 2). fs tells
	// which flags were given (fs.Visit).
	Check func(fs *flag.FlagSet) error
	// Run runs the command. An error wrapping a UsageError exits 2, an ExitError exits
	// with its code, any other 1.
	Run func(ctx context.Context, env *Env) error
	// RawArgs hands the command line to Run unparsed (for a command another binary runs).
	RawArgs bool
	// Positional names the arguments the command takes after its flags, like "FILE";
	// exactly that many must be given, and Run finds them in Env.Args.
	Positional []string
}

// UsageError is a command-line mistake: exit status 2 and a one-line reason.
type UsageError struct{ Reason string }

func (e *UsageError) Error() string { return e.Reason }

// Usagef returns a *UsageError with a formatted reason.
func Usagef(format string, a ...any) error {
	return &UsageError{fmt.Sprintf(format, a...)}
}

// ExitError ends the program with Code and prints nothing more: the command has said why.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Program is a named table of commands.
type Program struct {
	Name     string // like "hrvs"
	Intro    string // one line: what the program is
	Commands []*Command
}

// Usage writes the program's help: its intro and a line per command.
func (p *Program) Usage(w io.Writer) {
	fmt.Fprintf(w, "%s: %s\n\nusage:\n", p.Name, p.Intro)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range p.Commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", p.Name, c.UsageLine, c.Short)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags.\n", p.Name)
}

func (p *Program) lookup(name string) *Command {
	for _, c := range p.Commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (p *Program) names() string {
	n := make([]string, len(p.Commands))
	for i, c := range p.Commands {
		n[i] = c.Name
	}
	return strings.Join(n, ", ")
}

// FlagSet returns c's flags declared on a fresh set whose usage is c's help.
func (p *Program) FlagSet(c *Command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s\n\n", p.Name, c.UsageLine)
		if c.Long != "" {
			fmt.Fprintf(fs.Output(), "%s\n\n", strings.TrimSpace(c.Long))
		}
		fmt.Fprintln(fs.Output(), "flags:")
		fs.PrintDefaults()
	}
	if c.Flags != nil {
		c.Flags(fs)
	}
	return fs
}

// Main runs the command args[0] names and returns the exit status. "help", "-h" and
// "--help" print the program's help (or, followed by a command, the command's).
func (p *Program) Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, log *slog.Logger) int {
	if len(args) == 0 {
		p.Usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) < 2 || p.lookup(args[1]) == nil {
			p.Usage(stdout)
			return 0
		}
		name, args = args[1], []string{args[1], "--help"} // "help CMD" is "CMD --help"
	}
	c := p.lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "%s: unknown command %q (want %s)\n", p.Name, name, p.names())
		return 2
	}
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Log: log, Args: args[1:]}
	err := p.parse(c, env)
	if err == nil {
		err = c.Run(ctx, env)
	}
	var ue *UsageError
	var ee *ExitError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s %s: %s\n", p.Name, name, oneLine(err.Error()))
		return 2
	default:
		fmt.Fprintf(stderr, "%s %s: %s\n", p.Name, name, oneLine(err.Error()))
		return 1
	}
}

// parse parses env.Args into c's flags and checks them; a mistake is a *UsageError
// with the flag package's reason, --help prints the command's help and returns
// flag.ErrHelp.
func (p *Program) parse(c *Command, env *Env) error {
	if c.RawArgs {
		return nil
	}
	fs := p.FlagSet(c)
	err := fs.Parse(env.Args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(env.Stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return &UsageError{err.Error()}
	}
	switch {
	case fs.NArg() > len(c.Positional):
		return Usagef("unexpected argument %q", fs.Arg(len(c.Positional)))
	case fs.NArg() < len(c.Positional):
		return Usagef("%s is required", strings.Join(c.Positional[fs.NArg():], " "))
	}
	env.Args = fs.Args()
	if c.Check == nil {
		return nil
	}
	if err := c.Check(fs); err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			return err
		}
		return &UsageError{err.Error()}
	}
	return nil
}

// oneLine keeps a reason on one line: joined errors are separated by "; ".
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

// Given reports whether the flag name was set on the command line.
func Given(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// Unexplained lists, as "COMMAND -FLAG", the flags whose help shows no default: a flag
// whose default is zero or empty must say in its usage what that means ("default 0: no
// limit", "required"); a non-zero default is printed by the flag package. Boolean flags
// are off unless given and need no word. Tests call it so every --help stays complete.
func (p *Program) Unexplained() []string {
	var out []string
	for _, c := range p.Commands {
		if c.RawArgs {
			continue
		}
		p.FlagSet(c).VisitAll(func(f *flag.Flag) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				return
			}
			zero := f.DefValue == "" || f.DefValue == "0" || f.DefValue == "0s"
			if zero && !strings.Contains(f.Usage, "default") && !strings.Contains(f.Usage, "required") {
				out = append(out, c.Name+" -"+f.Name)
			}
		})
	}
	return out
}
