// Package blackboximport turns a blackbox_exporter setup into a Vigil config:
// the modules of blackbox.yml (how to probe) and the Prometheus jobs that send
// targets to them (what to probe) become services, features and checks.
//
// It follows what Prometheus and the exporter would do: targets from
// static_configs and file_sd_configs files, the job's params and its
// relabel_configs (replace, keep, drop, labelmap, ...) giving __param_target
// and __param_module, and the exporter's own defaults (module http_2xx, an
// http:// scheme added to a bare host, ip6 preferred). Module keys are copied
// where a Vigil kind has the same key (the kinds use blackbox_exporter's names
// where the meaning is the same) and translated where it has not; whatever it
// cannot carry over is reported with its file and line, never dropped
// silently. The output is checked with the real config loader, so it is a
// config `vigil --config.check` accepts.
package blackboximport
