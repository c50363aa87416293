package probes

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

func TestAgentFault(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", errno)}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"target refused", dial(syscall.ECONNREFUSED), ""},
		{"target timed out", fmt.Errorf("http probe a/b/c: GET http://x/: %w", os.ErrDeadlineExceeded), ""},
		{"no file descriptors", dial(syscall.EMFILE), "too many open files"},
		{"system file table full", dial(syscall.ENFILE), syscall.ENFILE.Error()},
		{"no memory", os.NewSyscallError("mmap", syscall.ENOMEM), syscall.ENOMEM.Error()},
		{"no buffers", dial(syscall.ENOBUFS), syscall.ENOBUFS.Error()},
		{"wrapped as an http client does", fmt.Errorf("http probe talk/msg/api: GET http://127.0.0.1/: %w",
			&url.Error{Op: "Get", URL: "http://127.0.0.1/", Err: dial(syscall.EMFILE)}), "too many open files"},
		{"joined", errors.Join(errors.New("first attempt"), dial(syscall.EMFILE)), "too many open files"},
		{"text only (the chain lost)", errors.New("socket: too many open files"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AgentFault(tc.err); got != tc.want {
				t.Errorf("AgentFault(%v) = %q, want %q", tc.err, got, tc.want)
			}
			r := (&Result{}).Fail(tc.err)
			if got := r.AgentFault(); got != tc.want {
				t.Errorf("Result{Err: %v}.AgentFault() = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
	if got := (&Result{Success: true, Err: dial(syscall.EMFILE)}).AgentFault(); got != "" {
		t.Errorf("a passing run's AgentFault() = %q, want \"\"", got)
	}
}
