package agent

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/export"
)

// defaultPushInterval is --push.interval's default.
const defaultPushInterval = 15 * time.Second

// startDuties adds the agent's periodic work other than checks to the
// scheduler as named gocron jobs (vigil_agent_job_runs_total{job}).
func (a *Agent) startDuties(reg prometheus.Registerer) error {
	// The SLA heartbeat: liveness, counters, retries of missed writes and
	// the daily compaction (the engine was opened with ScheduledHeartbeat).
	if err := a.sched.Every("sla-heartbeat", a.engine.HeartbeatInterval(), func(context.Context) {
		if err := a.engine.Heartbeat(); err != nil {
			a.logger.Error("sla heartbeat failed; kept in memory and written again at the next one", "err", err)
		}
	}); err != nil {
		return err
	}
	if a.opts.PushURL == "" {
		return nil
	}
	pusher, err := export.NewPusher(a.opts.PushURL, a.opts.PushLabels, a.expo, reg, a.logger)
	if err != nil {
		return err
	}
	interval := a.opts.PushInterval
	if interval <= 0 {
		interval = defaultPushInterval
	}
	return a.sched.Every("push", interval, func(ctx context.Context) {
		// A slow target must not hold the duty past its next turn.
		ctx, cancel := context.WithTimeout(ctx, interval)
		defer cancel()
		_ = pusher.Push(ctx) // counted and logged by the pusher
	})
}
