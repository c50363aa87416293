#!/usr/bin/env bash
# bench/run.sh: the benchmark harness of issue 7 (and the Go benchmarks of
# issue 2). Builds the agent and the harness programs, runs the Go benchmarks,
# then bench/cmd/benchrun, which measures Vigil, blackbox_exporter and a bare
# floor loop side by side and writes bench/RESULTS.md. See bench/README.md.
#
#   bench/run.sh                 full run, about 13 minutes on 2 cores
#   BENCH_QUICK=1 bench/run.sh   smoke run, about 2.5 minutes
#   BENCH_REPS=5 bench/run.sh    more repetitions (about 3.5 minutes each)
#   BENCH_PARTS=tcp,icmp bench/run.sh   some of the comparison's parts only
#                                (http, idle, dns, tcp, icmp, sizing; default
#                                all but sizing), written to
#                                bench/out/RESULTS.md, not bench/RESULTS.md
#   BENCH_PROFILE=basic bench/run.sh    the agent's metrics profile in every
#                                run (default: basic from 50,000 checks and in
#                                the sizing part, none below)
#
# Every process it starts is stopped when it ends, fails or is interrupted:
# the children of benchrun and of the test binaries die with their parent
# (Pdeathsig), and this script stops the step in flight on INT/TERM.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=bench/out
BIN=$OUT/bin
QUICK=${BENCH_QUICK:-0}
PARTS=${BENCH_PARTS:-http,idle,dns,tcp,icmp}
COMMAND="${BENCH_QUICK:+BENCH_QUICK=$BENCH_QUICK }${BENCH_REPS:+BENCH_REPS=$BENCH_REPS }${BENCH_PARTS:+BENCH_PARTS=$BENCH_PARTS }${BENCH_PROFILE:+BENCH_PROFILE=$BENCH_PROFILE }bench/run.sh"

# 10,000 checks, each with a connection in flight now and then, plus the
# targets' listeners: raise the open-files limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
	echo "bench/run.sh: open-files limit $(ulimit -n) is below 4096; raise it (ulimit -Hn)" >&2
	exit 1
fi

step_pid=""
stop_step() {
	if [ -n "$step_pid" ] && kill -0 "$step_pid" 2>/dev/null; then
		kill -TERM "$step_pid" 2>/dev/null || true
		wait "$step_pid" 2>/dev/null || true
	fi
}
trap 'stop_step; exit 130' INT TERM
trap 'stop_step' EXIT

# run_step runs a command in the background and waits for it, so a signal to
# this script can stop it.
run_step() {
	"$@" &
	step_pid=$!
	local rc=0
	wait "$step_pid" || rc=$?
	step_pid=""
	return "$rc"
}

mkdir -p "$BIN"
echo "== build" >&2
run_step "$GO" build -o "$BIN/vigil" ./cmd/vigil
run_step "$GO" build -o "$BIN/" ./bench/cmd/target ./bench/cmd/dnstarget ./bench/cmd/floor ./bench/cmd/benchrun

GOBENCH=$OUT/gobench.txt
: >"$GOBENCH"
# gobench runs one `go test -bench` command and appends it, with its output,
# to the file RESULTS.md quotes.
gobench() {
	echo "\$ $*" | tee -a "$GOBENCH" >&2
	local rc=0
	run_step "$@" >"$OUT/gobench.raw" 2>&1 || rc=$?
	grep -E '^(Benchmark|ok|FAIL|---|goos|goarch|cpu|pkg)' "$OUT/gobench.raw" | tee -a "$GOBENCH" >&2 || true
	echo >>"$GOBENCH"
	if [ "$rc" != 0 ]; then
		cat "$OUT/gobench.raw" >&2
		return "$rc"
	fi
}

echo "== Go benchmarks" >&2
if [ "$QUICK" = 1 ]; then
	gobench "$GO" test -run '^$' -bench 'BenchmarkProbe|BenchmarkBaseline' -benchmem -benchtime 200ms -count 1 ./probes/httpprobe/ ./probes/dnsprobe/
	gobench "$GO" test -run '^$' -bench 'BenchmarkGocron/jobs=10000/interval=10s|BenchmarkTimerFloor/jobs=10000/interval=10s' -benchtime 2000x ./bench/
else
	gobench "$GO" test -run '^$' -bench 'BenchmarkProbe|BenchmarkBaseline' -benchmem -count 1 ./probes/httpprobe/ ./probes/dnsprobe/
	gobench "$GO" test -run '^$' -bench 'BenchmarkGocron|BenchmarkSchedule|BenchmarkTimerFloor' -benchtime 10000x ./bench/
	# Issue 3: the SLA engine's hot path and its 10,000-feature costs.
	gobench "$GO" test -run '^$' -bench 'BenchmarkObserve' -benchmem -count 1 ./sla/
	gobench "$GO" test -run '^$' -bench '10k' -benchtime 3x -benchmem ./sla/
	# Issue 4: one message round trip per protocol, probe and bare client
	# (needs the machine's brokers; Kafka runs on kfake).
	gobench "$GO" test -run '^$' -bench 'BenchmarkRoundTrip|BenchmarkBare|BenchmarkTransportRoundTrip' -benchmem -benchtime 1s -count 1 ./probes/msgprobe/
fi

echo "== comparison" >&2
# The previous run's configs and logs, so that bench/out holds one run.
rm -rf "$OUT"/vigil-* "$OUT"/blackbox-* "$OUT"/floor-* "$OUT"/results.json
# A partial run does not replace the results of record.
RESULTS=bench/RESULTS.md
if [ -n "${BENCH_PARTS:-}" ]; then
	RESULTS=$OUT/RESULTS.md
fi
args=(-bin "$BIN" -work "$OUT" -out "$RESULTS" -gobench "$GOBENCH" -command "$COMMAND" -parts "$PARTS")
if [ "$QUICK" = 1 ]; then
	args+=(-quick)
fi
if [ -n "${BENCH_REPS:-}" ]; then
	args+=(-reps "$BENCH_REPS")
fi
if [ -n "${BENCH_PROFILE:-}" ]; then
	args+=(-profile "$BENCH_PROFILE")
fi
run_step "$BIN/benchrun" "${args[@]}"
