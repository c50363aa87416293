// Package deploy holds Vigil's deployment files: Prometheus rules and their
// promtool tests, Alertmanager, systemd, Docker and Kubernetes manifests. The
// Go code here only keeps the generated manifest in sync with its source, and
// deploy_test.go checks every file with the tool that reads it.
package deploy

//go:generate go run ./genrule
