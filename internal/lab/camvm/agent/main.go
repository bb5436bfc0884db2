//go:build linux

// Command agent runs inside the camvm guest: it dials the test on the host
// (QEMU user networking: the host's 127.0.0.1 is the guest's 10.0.2.2), runs the
// commands the test sends and answers with their output. It also sets V4L2
// controls (vivid's Disconnect, its colour settings) and feeds MJPEG into a
// v4l2loopback node, the two things busybox cannot do.
//
//	agent serve            the guest's main loop (address from hrvs.agent= on the kernel command line)
//	agent ctrl DEV N=V...  set controls by v4l2-ctl style name; V is a number or a menu item's name
//	agent feed [-corrupt N] [-no-dht] DEV WxH FPS
//	                       write 75% colour bars as MJPEG into a v4l2loopback output node
//	agent input DEV N      select video input N (vivid: 0 webcam, 1 TV, 2 S-Video, 3 HDMI)
//
// It is lab code: built for the guest by the camvm package, never linked into hrvs.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: agent serve | ctrl DEV NAME=VALUE... | feed DEV WxH FPS")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "ctrl":
		err = ctrlCmd(os.Args[2:])
	case "feed":
		err = feedCmd(os.Args[2:])
	case "input":
		err = inputCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// Request is one line from the host. Op is run (wait for the command), start
// (leave it running under ID), peek (its output so far), stop (signal ID and wait
// for it), wait (wait for ID) or poweroff.
type Request struct {
	Op      string   `json:"op"`
	ID      string   `json:"id,omitempty"`
	Args    []string `json:"args,omitempty"`
	Signal  int      `json:"signal,omitempty"`
	Timeout int64    `json:"timeout_ms,omitempty"`
}

// Reply answers a Request: the command's exit code and output, or why the agent
// could not do it.
type Reply struct {
	Code   int    `json:"code"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Err    string `json:"err,omitempty"`
}

type job struct {
	cmd         *exec.Cmd
	out, errOut lockedBuffer // written by exec's copiers while the command runs
	done        chan struct{}
	code        int
}

// lockedBuffer lets peek read output that exec's copier goroutines are writing.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func serve() error {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return err
	}
	addr := ""
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "hrvs.agent="); ok {
			addr = v
		}
	}
	if addr == "" {
		return fmt.Errorf("no hrvs.agent= on the kernel command line")
	}
	var conn net.Conn
	for deadline := time.Now().Add(60 * time.Second); ; {
		conn, err = net.DialTimeout("tcp", addr, 20*time.Second)
		if err == nil {
			if _, err = conn.Write([]byte("hrvs-agent\n")); err == nil {
				break
			}
			conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dial %s: %w", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Println("agent: connected to", addr)
	in := bufio.NewScanner(conn)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	enc := json.NewEncoder(conn)
	jobs := map[string]*job{}
	var mu sync.Mutex
	for in.Scan() {
		var req Request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			enc.Encode(Reply{Err: err.Error()})
			continue
		}
		var rep Reply
		switch req.Op {
		case "run":
			j, err := startJob(req.Args)
			if err != nil {
				rep.Err = err.Error()
				break
			}
			rep = waitJob(j, time.Duration(req.Timeout)*time.Millisecond)
		case "start":
			j, err := startJob(req.Args)
			if err != nil {
				rep.Err = err.Error()
				break
			}
			mu.Lock()
			jobs[req.ID] = j
			mu.Unlock()
		case "peek":
			mu.Lock()
			j := jobs[req.ID]
			mu.Unlock()
			if j == nil {
				rep.Err = "no job " + req.ID
				break
			}
			rep.Stdout, rep.Stderr = j.out.String(), j.errOut.String()
		case "stop", "wait":
			mu.Lock()
			j := jobs[req.ID]
			delete(jobs, req.ID)
			mu.Unlock()
			if j == nil {
				rep.Err = "no job " + req.ID
				break
			}
			if req.Op == "stop" {
				j.cmd.Process.Signal(syscall.Signal(req.Signal))
			}
			rep = waitJob(j, time.Duration(req.Timeout)*time.Millisecond)
		case "poweroff":
			enc.Encode(Reply{})
			conn.Close()
			unix.Sync()
			return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		default:
			rep.Err = "unknown op " + req.Op
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	return in.Err()
}

func startJob(args []string) (*job, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no command")
	}
	j := &job{cmd: exec.Command(args[0], args[1:]...), done: make(chan struct{})}
	j.cmd.Stdout, j.cmd.Stderr = &j.out, &j.errOut
	if err := j.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		err := j.cmd.Wait()
		j.code = 0
		if err != nil {
			j.code = -1
			if ee, ok := err.(*exec.ExitError); ok {
				j.code = ee.ExitCode()
			}
		}
		close(j.done)
	}()
	return j, nil
}

// waitJob waits for j; after timeout (0: a minute) it kills it and says so.
func waitJob(j *job, timeout time.Duration) Reply {
	if timeout <= 0 {
		timeout = time.Minute
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var rep Reply
	select {
	case <-j.done:
	case <-t.C:
		j.cmd.Process.Kill()
		<-j.done
		rep.Err = fmt.Sprintf("killed after %v", timeout)
	}
	rep.Code, rep.Stdout, rep.Stderr = j.code, j.out.String(), j.errOut.String()
	return rep
}
