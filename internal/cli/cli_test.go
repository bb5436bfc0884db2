package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"
)

// testProgram has one command of each kind: flags with a check, a raw one, a failing one.
func testProgram(ran *[]string) *Program {
	var n int
	return &Program{Name: "prog", Intro: "a test", Commands: []*Command{
		{Name: "count", UsageLine: "count [--n N]", Short: "counts", Long: "Counts to N.",
			Flags: func(fs *flag.FlagSet) { fs.IntVar(&n, "n", 3, "how far to count, 1..9") },
			Check: func(fs *flag.FlagSet) error {
				if n < 1 || n > 9 {
					return errors.New("--n: want 1..9")
				}
				return nil
			},
			Run: func(_ context.Context, env *Env) error {
				*ran = append(*ran, "count")
				return nil
			}},
		{Name: "raw", UsageLine: "raw ARGS", Short: "takes anything", RawArgs: true,
			Run: func(_ context.Context, env *Env) error {
				*ran = append(*ran, "raw "+strings.Join(env.Args, " "))
				return &ExitError{Code: 7}
			}},
		{Name: "fail", UsageLine: "fail", Short: "fails at run time",
			Run: func(context.Context, *Env) error { return errors.New("socket: address in use\nsecond line") }},
		{Name: "misuse", UsageLine: "misuse", Short: "finds a usage error while running",
			Run: func(context.Context, *Env) error { return Usagef("--source %s: no such file", "x") }},
	}}
}

func TestMainExitsByTheKindOfError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout string
		ran    string
	}{
		{"no command prints the commands and exits 2", nil, 2, "prog count [--n N]", "", ""},
		{"an unknown command exits 2 naming the known ones", []string{"x"}, 2, `prog: unknown command "x" (want count, raw, fail, misuse)`, "", ""},
		{"a good command line runs and exits 0", []string{"count", "--n", "5"}, 0, "", "", "count"},
		{"a value the flag package refuses exits 2", []string{"count", "--n", "five"}, 2, `prog count: invalid value "five" for flag -n`, "", ""},
		{"a value the check refuses exits 2 and does not run", []string{"count", "--n", "10"}, 2, "prog count: --n: want 1..9\n", "", ""},
		{"a stray argument exits 2", []string{"count", "now"}, 2, `prog count: unexpected argument "now"`, "", ""},
		{"--help prints the command's help to stdout and exits 0", []string{"count", "--help"}, 0, "", "usage: prog count [--n N]\n\nCounts to N.\n\nflags:\n  -n int\n    \thow far to count, 1..9 (default 3)\n", ""},
		{"help COMMAND is the same help", []string{"help", "count"}, 0, "", "usage: prog count [--n N]", ""},
		{"help alone lists the commands", []string{"help"}, 0, "", "prog fail", ""},
		{"help of a raw command asks the command for its help", []string{"help", "raw"}, 7, "", "", "raw --help"},
		{"a raw command gets its words unparsed and its exit status through", []string{"raw", "--any", "thing"}, 7, "", "", "raw --any thing"},
		{"a runtime failure exits 1 on one line", []string{"fail"}, 1, "prog fail: socket: address in use; second line\n", "", ""},
		{"a usage error found while running exits 2", []string{"misuse"}, 2, "prog misuse: --source x: no such file\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			var out, errb bytes.Buffer
			code := testProgram(&ran).Main(context.Background(), tc.args, nil, &out, &errb, slog.New(slog.DiscardHandler))
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) || tc.stderr == "" && errb.Len() > 0 && tc.code != 2 {
				t.Fatalf("stderr %q, want %q", errb.String(), tc.stderr)
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Fatalf("stdout %q, want %q", out.String(), tc.stdout)
			}
			if got := strings.Join(ran, ","); got != tc.ran {
				t.Fatalf("ran %q, want %q", got, tc.ran)
			}
		})
	}
}

func TestGivenTellsASetFlagFromItsDefault(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("a", 1, "")
	fs.Int("b", 1, "")
	if err := fs.Parse([]string{"-a", "1"}); err != nil {
		t.Fatal(err)
	}
	if !Given(fs, "a") || Given(fs, "b") {
		t.Fatalf("Given a %v, b %v; want true, false", Given(fs, "a"), Given(fs, "b"))
	}
}

func TestUnexplainedNamesFlagsWithoutADefault(t *testing.T) {
	p := &Program{Name: "prog", Commands: []*Command{{Name: "c", Flags: func(fs *flag.FlagSet) {
		fs.Int("limit", 0, "stop after this many") // zero, unexplained
		fs.Int("frames", 0, "stop after this many (default 0: no limit)")
		fs.String("to", "", "where to send (required)")
		fs.String("name", "x", "a name")           // the flag package prints x
		fs.Bool("loop", false, "repeat")           // off unless given
		fs.Duration("wait", 0, "how long to wait") // zero, unexplained
	}}}}
	got := strings.Join(p.Unexplained(), ",")
	if got != "c -limit,c -wait" {
		t.Fatalf("Unexplained() = %q, want c -limit,c -wait", got)
	}
}
