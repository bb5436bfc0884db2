package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRTPOutFlagMistakesExitTwo(t *testing.T) {
	recv := func(a ...string) []string {
		return append([]string{"recv", "--duration", "2s", "--listen", "127.0.0.1:0", "--announce=false"}, a...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an RTP address without a port", recv("--rtp-out", "127.0.0.1"), `--rtp-out "127.0.0.1": want HOST:PORT`},
		{"an RTP address with port 0", recv("--rtp-out", "127.0.0.1:0"), "port must be a number 1..65535"},
		{"an RTP address that names no machine", recv("--rtp-out", "0.0.0.0:5004"), "--rtp-out 0.0.0.0:5004: want the address of the player's machine"},
		{"an SDP file without an RTP address", recv("--sdp", "s.sdp"), "--sdp s.sdp describes the --rtp-out stream"},
		{"an http URL to publish to", recv("--rtsp-publish", "http://host/x"), `--rtsp-publish "http://host/x"`},
		{"an RTSP URL without a server", recv("--rtsp-publish", "rtsp://"), "no server"},
		{"demo with an SDP file and no RTP address", []string{"demo", "--duration", "2s", "--sdp", "s.sdp"}, "--sdp s.sdp"},
	} {
		t.Run(tc.name+" is a usage error on one line", func(t *testing.T) {
			code, _, stderr := runCmd(tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q: want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestDemoPlaysInFFmpegOverRTP(t *testing.T) {
	t.Run("ffmpeg opens the SDP file hrvs writes and decodes the received frames", func(t *testing.T) {
		ffmpeg, err := exec.LookPath("ffmpeg")
		if err != nil {
			t.Fatalf("ffmpeg is not installed (./build.sh test installs it): %v", err)
		}
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close() // ffmpeg takes the port, from the SDP file
		sdp := filepath.Join(t.TempDir(), "stream.sdp")
		done := make(chan int, 1)
		go func() {
			code, _, stderr := runCmd("demo", "--sink", "null", "--size", "640x368", "--fps", "25", "--frames", "300", "--duration", "120s", // 12 s: long enough for ffmpeg to probe and decode
				"--rtp-out", fmt.Sprintf("127.0.0.1:%d", port), "--sdp", sdp)
			if code != 0 {
				t.Errorf("demo: exit %d: %s", code, stderr)
			}
			done <- code
		}()
		end := time.Now().Add(120 * time.Second)
		for _, err := os.Stat(sdp); err != nil; _, err = os.Stat(sdp) {
			if time.Now().After(end) {
				t.Fatal("no SDP file written")
			}
			time.Sleep(10 * time.Millisecond)
		}
		const frames = 10
		ctx, cancel := context.WithDeadline(context.Background(), end)
		defer cancel()
		cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp",
			"-buffer_size", "8388608", "-analyzeduration", "500000", "-fpsprobesize", "1", "-i", sdp, "-frames:v", fmt.Sprint(frames), "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1")
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err = cmd.Run()
		if want := frames * 640 * 368; err != nil || out.Len() != want {
			t.Fatalf("ffmpeg: %v, %d bytes of %d\n%s", err, out.Len(), want, stderr.Bytes())
		}
		// The picture is the demo's test pattern, not a flat field.
		last := out.Bytes()[(frames-1)*640*368:]
		lo, hi := byte(255), byte(0)
		for _, v := range last {
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi-lo < 100 {
			t.Fatalf("last frame's luma spans %d..%d: no picture", lo, hi)
		}
		<-done
	})
}
