package probes

import (
	"errors"
	"syscall"
)

// agentFaults are the errors that say the agent itself ran short of a
// resource rather than that the target failed: with no file descriptor or
// buffer left, every dial fails whatever the state of the service.
var agentFaults = [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS}

// AgentFault returns why err is the agent's own failure, not the target's
// ("too many open files", "cannot allocate memory", ...), or "" when it is
// not. It looks through the wrapping (*net.OpError, *os.SyscallError, %w),
// so a probe need only wrap its errors with %w.
func AgentFault(err error) string {
	if err == nil {
		return ""
	}
	for _, errno := range agentFaults {
		if errors.Is(err, errno) {
			return errno.Error()
		}
	}
	return ""
}

// AgentFault returns why the run failed for a reason of the agent's own
// (see the function AgentFault), or "" when it passed or failed for the
// target's. Such a run says nothing about the service: the SLA engine books
// its time as unmonitored, not as downtime.
func (r *Result) AgentFault() string {
	if r.Success {
		return ""
	}
	return AgentFault(r.Err)
}
