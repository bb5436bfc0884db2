package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hrvs/hrvs/internal/cli"
	"github.com/hrvs/hrvs/net/pair"
	"github.com/hrvs/hrvs/net/seal"
)

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:       "keygen",
		UsageLine:  "keygen FILE",
		Short:      "write a new random stream key to FILE (mode 0600)",
		Long:       "Writes a new random 256-bit stream key to FILE (mode 0600; an existing file is never\nreplaced; a missing directory is made, mode 0700) and prints its fingerprint. Give the\nsame file to both ends with --key. docs/SECURITY.md says what a key protects.",
		Flags:      func(*flag.FlagSet) {},
		Positional: []string{"FILE"},
		Run: func(_ context.Context, env *cli.Env) error {
			k, err := seal.NewKey()
			if err != nil {
				return err
			}
			if err := seal.WriteKeyFile(env.Args[0], k); errors.Is(err, fs.ErrExist) {
				// Replacing a key would cut off every peer that holds it: say so, not the call that failed.
				return fmt.Errorf("%s already exists: keygen never replaces a key (remove it first, or pick another name)", env.Args[0])
			} else if err != nil {
				return err
			}
			_, err = fmt.Fprintf(env.Stdout, "wrote %s: key %s\n", env.Args[0], k.Fingerprint())
			return err
		},
	}
}

// keyFlags are --key and --pair, which send and recv share.
type keyFlags struct {
	file string
	pair bool
}

func (k *keyFlags) register(fs *flag.FlagSet, peer string) {
	fs.StringVar(&k.file, "key", k.file, "stream key `file` from hrvs keygen: authenticate and encrypt every datagram and the\ncontrol link (docs/SECURITY.md); "+peer+" needs the same key (default: a key stored by --pair for\nthis address, else none)")
	fs.BoolVar(&k.pair, "pair", k.pair, "pair with "+peer+" first: both show a 6-digit code to confirm, and the new key is\nstored under ~/.config/hrvs/keys and used from then on")
}

func (k *keyFlags) check() error {
	if k.pair && k.file != "" {
		return cli.Usagef("--pair and --key: give one (pairing makes a new key)")
	}
	return nil
}

// resolve returns the key to use: the file's, a new one from pairing (stored as name),
// or the one stored by an earlier pairing as name; nil for none. A key file that cannot
// be read is a usage error.
func (k *keyFlags) resolve(ctx context.Context, env *cli.Env, name string, pairing func(context.Context, pair.Confirm) (seal.Key, error)) (*seal.Key, error) {
	switch {
	case k.file != "":
		key, err := seal.ReadKeyFile(k.file)
		if err != nil {
			return nil, cli.Usagef("--key %s: %v", k.file, err)
		}
		env.Log.Info("stream key", "file", k.file, "fingerprint", key.Fingerprint())
		return &key, nil
	case k.pair:
		path, err := pair.StorePath(name)
		if err != nil {
			return nil, err
		}
		key, err := pairing(ctx, confirmOn(env))
		if err != nil {
			return nil, err
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("replacing the stored key: %w", err)
		}
		if err := seal.WriteKeyFile(path, key); err != nil {
			return nil, err
		}
		env.Log.Info("paired: the key is stored and used from now on", "file", path, "fingerprint", key.Fingerprint())
		return &key, nil
	}
	path, err := pair.StorePath(name)
	if err != nil {
		return nil, nil // no config directory: no stored key either
	}
	key, err := seal.ReadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the key stored by pairing: %w", err)
	}
	env.Log.Info("using the key stored by pairing", "file", path, "fingerprint", key.Fingerprint())
	return &key, nil
}

// confirmOn shows the pairing code on stderr and reads the user's answer from stdin.
func confirmOn(env *cli.Env) pair.Confirm {
	return func(code string) (bool, error) {
		fmt.Fprintf(env.Stderr, "pairing code: %s %s\nDoes the other machine show the same code? [y/N] ", code[:3], code[3:])
		if env.Stdin == nil {
			return false, fmt.Errorf("pairing needs an answer on standard input")
		}
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return false, err
		}
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes", nil
	}
}

// pairAsReceiver waits on listen's TCP port for one sender's pairing.
func pairAsReceiver(listen string, log *slog.Logger) func(context.Context, pair.Confirm) (seal.Key, error) {
	return func(ctx context.Context, confirm pair.Confirm) (seal.Key, error) {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return seal.Key{}, fmt.Errorf("--pair: %w", err)
		}
		defer ln.Close()
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		defer stop()
		log.Info("waiting for a sender to pair (hrvs send --to THIS:PORT --pair)", "listen", ln.Addr().String())
		c, err := ln.Accept()
		if err != nil && ctx.Err() != nil { // stopped: the listener was closed for it
			return seal.Key{}, fmt.Errorf("--pair: stopped before a sender paired")
		} else if err != nil {
			return seal.Key{}, fmt.Errorf("--pair: %w", err)
		}
		defer c.Close()
		return pair.Respond(ctx, c, confirm)
	}
}

// pairAsSender pairs with the receiver at to.
func pairAsSender(to string) func(context.Context, pair.Confirm) (seal.Key, error) {
	return func(ctx context.Context, confirm pair.Confirm) (seal.Key, error) {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := d.DialContext(dctx, "tcp", to)
		if err != nil {
			return seal.Key{}, fmt.Errorf("--pair: the receiver must be running with --pair: %w", err)
		}
		defer c.Close()
		return pair.Initiate(ctx, c, confirm)
	}
}

// storeName is the name a paired key is kept under: the role and the address.
func storeName(role, addr string) string { return role + "-" + addr }
