// Package probes defines what every probe kind shares: the Prober interface, the
// Result a run yields, and the options a probe is built with. One sub-package per
// kind (httpprobe, dnsprobe, msgprobe, tcpprobe, tlsprobe, sshprobe, grpcprobe,
// icmpprobe) implements it; probes/kinds is the one
// table of kinds, and probes/probeconfig the config kit they read their blocks
// with. Probes know nothing of where results go: the scheduler hands them to
// sinks (metrics, the SLA engine, the API).
package probes
