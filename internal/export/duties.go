package export

import "github.com/prometheus/client_golang/prometheus"

// NewDutyMetrics registers the series of the agent's scheduled duties (the
// SLA heartbeat, push, ...) on reg: vigil_agent_job_runs_total{job} and
// vigil_agent_job_last_run_timestamp_seconds{job}.
func NewDutyMetrics(reg prometheus.Registerer) (runs *prometheus.CounterVec, lastRun *prometheus.GaugeVec) {
	runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_agent_job_runs_total",
		Help: "Runs of each of the agent's scheduled duties."}, []string{"job"})
	lastRun = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_agent_job_last_run_timestamp_seconds",
		Help: "End of each duty's last run (Unix seconds)."}, []string{"job"})
	reg.MustRegister(runs, lastRun)
	return runs, lastRun
}
