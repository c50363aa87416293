// Package bench holds Vigil's benchmarks against its peers (issue 7). The
// harness proper is bench/cmd/benchrun, run by bench/run.sh (`make bench`),
// which measures the built agent, blackbox_exporter and a bare floor loop from
// the outside and writes RESULTS.md. This package's Go benchmarks drive the
// agent's packages in-process instead, so that `go test -cpuprofile` and
// `-memprofile` show where its CPU and memory go: the whole agent
// (internal/agent), the scheduler alone (internal/schedule) and gocron/v2
// alone. See README.md.
package bench
