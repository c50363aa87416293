package probes

import "context"

// runContext is a scheduled run's context: canceled by its deadline, or only
// once the run has returned.
type runContext struct{ context.Context }

// RunContext marks ctx as a scheduled run's: while the run is in progress
// nothing cancels it but its deadline (the scheduler cancels a run's context
// only after Probe returned). A probe whose every wait is bounded by that
// deadline (a socket deadline) then need not also watch ctx for an earlier
// cancellation; context.AfterFunc costs some 300 bytes and four allocations
// a run. ctx must have a deadline.
func RunContext(ctx context.Context) context.Context { return runContext{ctx} }

// CanceledOnlyByDeadline reports whether ctx is RunContext's itself (not a
// context derived from it, which may be canceled earlier) and has a deadline.
func CanceledOnlyByDeadline(ctx context.Context) bool {
	if _, ok := ctx.(runContext); !ok {
		return false
	}
	_, ok := ctx.Deadline()
	return ok
}
