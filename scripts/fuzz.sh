#!/usr/bin/env bash
# Runs every fuzz target in the module, one after another, for FUZZTIME each
# (default 3s: `make test` runs them briefly; `make fuzz` sets 5m). A finding
# fails the run and leaves its input under the package's testdata/fuzz/, where
# `go test` then replays it as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
targets=$(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' --exclude-dir=.git . |
  sed -E 's#^\./(.*)/[^/]+_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]+)\(.*#./\1 \2#' | sort)
if [ -z "$targets" ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
n=0
while read -r pkg name; do
  echo "== fuzz $pkg $name for $fuzztime"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
  n=$((n + 1))
done <<<"$targets"
echo "fuzz: $n targets ran for $fuzztime each"
