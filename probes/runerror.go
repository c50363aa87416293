package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"
)

// RunCause classifies the error a run ended with: timedOut is true when the
// run's deadline caused it, and a cancellation (agent shutdown), which reaches
// a connection as an expired deadline too, comes back as "run canceled:
// context canceled" so the error says what really happened. Kinds call it
// before prefixing the error with the kind and check.
func RunCause(ctx context.Context, err error) (cause error, timedOut bool) {
	timeout := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
	switch {
	case errors.Is(err, context.Canceled), timeout && errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("run canceled: %w", context.Canceled), false
	case timeout:
		return err, true
	}
	return err, false
}

// NetCause drops the *net.OpError and *os.SyscallError wrapping, whose text
// repeats the addresses an error's prefix already gives ("connect
// 127.0.0.1:22: connection refused"); the errno stays reachable.
func NetCause(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		err = opErr.Err
	}
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		err = sysErr.Err
	}
	return err
}

// aLongTimeAgo is a deadline in the past, which wakes blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// Deadliner is what BindConn needs of a connection: a net.Conn or a
// net.PacketConn.
type Deadliner interface {
	SetDeadline(t time.Time) error
}

// BindConn makes conn's I/O end by ctx's deadline, and at once when ctx is
// canceled; the returned stop releases the cancellation watch (call it before
// conn is closed or outlives the run).
func BindConn(ctx context.Context, conn Deadliner) (stop func() bool) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
}

// Run is one run of a kind whose work is run: it stamps the result's start
// and duration, and on failure marks a timeout, prefixes the error with the
// kind and check ("tcp probe talk/api/tcp: ...") and logs it at debug level.
func Run(ctx context.Context, kind, checkID string, logger *slog.Logger, run func(context.Context, *Result) error) *Result {
	r := &Result{Start: time.Now()}
	err := run(ctx, r)
	r.Duration = time.Since(r.Start)
	if err == nil {
		r.Success = true
		return r
	}
	cause, timedOut := RunCause(ctx, err)
	r.TimedOut = timedOut
	r.Fail(fmt.Errorf("%s probe %s: %w", kind, checkID, cause))
	if logger != nil {
		logger.LogAttrs(ctx, slog.LevelDebug, kind+" probe failed", slog.String("check", checkID), slog.String("err", r.Err.Error()))
	}
	return r
}

// PhaseResolve is the phase of a run that looks its target's name up.
const PhaseResolve = "resolve"

// Resolver is a run's target as the kinds' endpoints give it: Resolve finds
// the address to dial (and the "host:port" errors name); Literal says the
// target is an address already, with nothing to look up.
type Resolver interface {
	Resolve(ctx context.Context) (netip.Addr, string, error)
	Literal() bool
}

// Resolve resolves ep for a run, adding the run's "resolve" phase to r when
// ep is a name.
func Resolve(ctx context.Context, r *Result, ep Resolver) (netip.Addr, string, error) {
	start := time.Now()
	ip, target, err := ep.Resolve(ctx)
	if !ep.Literal() {
		r.Phases = append(r.Phases, Phase{Name: PhaseResolve, Duration: time.Since(start)})
	}
	return ip, target, err
}
