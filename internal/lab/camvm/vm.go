package camvm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// VM is a booted guest with its agent connected.
type VM struct {
	cmd     *exec.Cmd
	console *syncBuffer
	exited  chan struct{}
	exitErr error

	mu   sync.Mutex // one request at a time
	conn net.Conn
	in   *bufio.Scanner
}

// Result is what a command in the guest did.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// agentHello is the agent's first line on a new connection.
const agentHello = "hrvs-agent"

// bootWait bounds the boot, module loading included, under emulation on a busy machine.
const bootWait = 90 * time.Second

// Boot starts QEMU on img (TCG: no KVM needed) with 512 MiB and user networking,
// and waits for the guest's agent to dial in.
func Boot(ctx context.Context, img Image) (*VM, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	v := &VM{console: &syncBuffer{}, exited: make(chan struct{})}
	v.cmd = exec.Command("qemu-system-x86_64",
		"-accel", "tcg", "-m", "512", "-smp", "1", "-nographic", "-no-reboot",
		"-kernel", img.Kernel, "-initrd", img.Initrd,
		"-append", fmt.Sprintf("console=ttyS0 panic=-1 quiet loglevel=4 hrvs.agent=10.0.2.2:%d", port),
		"-nic", "user,model=e1000")
	v.cmd.Stdout, v.cmd.Stderr = v.console, v.console
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu-system-x86_64 (apt-get install qemu-system-x86): %w", err)
	}
	go func() { v.exitErr = v.cmd.Wait(); close(v.exited) }()
	// QEMU's user network accepts the guest's connection on the host before the
	// guest has finished its handshake, and an emulated guest that gives up and
	// dials again leaves a dead one behind: the agent's greeting marks the live one.
	type live struct {
		c  net.Conn
		in *bufio.Scanner
	}
	accepted := make(chan live, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetReadDeadline(time.Now().Add(bootWait))
				in := bufio.NewScanner(c)
				in.Buffer(make([]byte, 1<<20), 16<<20)
				if !in.Scan() || in.Text() != agentHello {
					c.Close()
					return
				}
				c.SetReadDeadline(time.Time{})
				select {
				case accepted <- live{c, in}:
				default:
					c.Close()
				}
			}()
		}
	}()
	t := time.NewTimer(bootWait)
	defer t.Stop()
	select {
	case l := <-accepted:
		v.conn, v.in = l.c, l.in
		return v, nil
	case <-v.exited:
		return nil, fmt.Errorf("qemu exited before the agent connected: %v", v.exitErr)
	case <-t.C:
		v.kill()
		return nil, fmt.Errorf("the guest's agent did not connect in %v", bootWait)
	case <-ctx.Done():
		v.kill()
		return nil, ctx.Err()
	}
}

// Console is everything the guest wrote to its serial console (and QEMU to stderr).
func (v *VM) Console() string { return v.console.String() }

type request struct {
	Op      string   `json:"op"`
	ID      string   `json:"id,omitempty"`
	Args    []string `json:"args,omitempty"`
	Signal  int      `json:"signal,omitempty"`
	Timeout int64    `json:"timeout_ms,omitempty"`
}

type reply struct {
	Code   int    `json:"code"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Err    string `json:"err,omitempty"`
}

func (v *VM) call(req request) (Result, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	b, _ := json.Marshal(req)
	// The agent answers within the request's own timeout; allow for emulation.
	v.conn.SetDeadline(time.Now().Add(time.Duration(req.Timeout)*time.Millisecond + 2*time.Minute))
	if _, err := v.conn.Write(append(b, '\n')); err != nil {
		return Result{}, fmt.Errorf("to the agent: %w", err)
	}
	if !v.in.Scan() {
		return Result{}, fmt.Errorf("the agent did not answer %s %v: %v", req.Op, req.Args, v.in.Err())
	}
	var rep reply
	if err := json.Unmarshal(v.in.Bytes(), &rep); err != nil {
		return Result{}, err
	}
	res := Result{Code: rep.Code, Stdout: rep.Stdout, Stderr: rep.Stderr}
	if rep.Err != "" {
		return res, fmt.Errorf("%s %v: %s", req.Op, req.Args, rep.Err)
	}
	return res, nil
}

// Run runs a command in the guest and waits for it, killing it after timeout.
func (v *VM) Run(timeout time.Duration, args ...string) (Result, error) {
	return v.call(request{Op: "run", Args: args, Timeout: timeout.Milliseconds()})
}

// Sh runs a busybox shell line in the guest.
func (v *VM) Sh(timeout time.Duration, line string) (Result, error) {
	return v.Run(timeout, "/bin/sh", "-c", line)
}

// Start leaves a command running in the guest under id.
func (v *VM) Start(id string, args ...string) error {
	_, err := v.call(request{Op: "start", ID: id, Args: args})
	return err
}

// Stop sends SIGINT to the command started as id and waits for it to end.
func (v *VM) Stop(id string, timeout time.Duration) (Result, error) {
	return v.call(request{Op: "stop", ID: id, Signal: int(syscall.SIGINT), Timeout: timeout.Milliseconds()})
}

// Peek returns the output so far of the command started as id.
func (v *VM) Peek(id string) (Result, error) {
	return v.call(request{Op: "peek", ID: id})
}

// Wait waits for the command started as id to end by itself.
func (v *VM) Wait(id string, timeout time.Duration) (Result, error) {
	return v.call(request{Op: "wait", ID: id, Timeout: timeout.Milliseconds()})
}

// Close powers the guest off and waits for QEMU to exit; QEMU is killed if it
// takes longer than 30 s.
func (v *VM) Close() error {
	if v.conn != nil {
		v.call(request{Op: "poweroff"})
		v.conn.Close()
	}
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-v.exited:
		return nil
	case <-t.C:
		v.kill()
		return errors.New("qemu did not exit after poweroff; killed")
	}
}

func (v *VM) kill() {
	if v.cmd.Process != nil {
		syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-v.exited
}

// syncBuffer collects console output from QEMU's copier goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
