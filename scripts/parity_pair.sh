#!/usr/bin/env bash
# Two builds of the moto parity test (tests/pipeline_moto.rs) run *at the same time*, each
# against a moto of its own, and the client CPU of each one's measured execution printed side
# by side, round after round.
#
# Why: on a machine whose speed moves (docs/performance-log.md: a fixed Python loop took between 1.3
# and 4.7 s across sessions), one binary's runs one after the other spread by about a fifth, more
# than most changes it is meant to judge. Run together, both builds see the same host at the same
# time, so a slower host slows both (the two measured executions overlap only roughly, so it does
# not remove the noise: run several rounds). With a build measured at the machine's usual speed as
# one of the two, the ratio scales that figure to the other build, for the same measure only (a
# ratio at 600 rows scales a figure at 600 rows, not a slope).
#
# Usage: scripts/parity_pair.sh A B [ROUNDS [ROWS [CHUNK_ROWS]]]
#   A, B        pipeline_moto test binaries of the two builds (copy
#               target/release/deps/pipeline_moto-* out of each build; `cargo test --release
#               -p integration-tests --test pipeline_moto --no-run` prints the path)
#   ROUNDS      rounds (default 5)
#   ROWS        rows per job (a multiple of 50; default 600)
#   CHUNK_ROWS  rows per chunk (a divisor of ROWS; default 300)
# Each run is warm (PARITY_WARM=1: one import before the measured ones, as a Lambda runs chunk
# after chunk). Each run's output is kept in target/parity-pair/. Needs moto, as
# scripts/parity_instructions.sh (MOTO_PYTHON, or scripts/setup-test-tools.sh's venv).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '14,23p' "$0" >&2
  exit 2
fi
a="$(realpath "$1")"
b="$(realpath "$2")"
rounds="${3:-5}"
rows="${4:-600}"
chunk_rows="${5:-300}"
if ! [[ "$rows" =~ ^[0-9]+$ && "$chunk_rows" =~ ^[0-9]+$ && "$rounds" =~ ^[0-9]+$ ]] \
  || ((rows < 50 || rows % 50 != 0)) || ((chunk_rows < 50 || rows % chunk_rows != 0)); then
  echo "error: ROWS must be a multiple of 50, CHUNK_ROWS at least 50 and a divisor of ROWS" >&2
  exit 2
fi
source scripts/parity_common.sh
out=target/parity-pair
parity_setup "$out" "$a" "$b"

echo "round  A µs/row  B µs/row  B/A"
for round in $(seq 1 "$rounds"); do
  parity_run "$a" "$rows" "$chunk_rows" "$out/a.$round.out" &
  pid_a=$!
  # Not at the same instant: each moto takes a free port first, and two probes at once could be
  # handed the same one.
  sleep 2
  parity_run "$b" "$rows" "$chunk_rows" "$out/b.$round.out" &
  pid_b=$!
  status=0
  wait "$pid_a" || status=1
  wait "$pid_b" || status=1
  ua="$(parity_per_row "$out/a.$round.out")"
  ub="$(parity_per_row "$out/b.$round.out")"
  if [ "$status" -ne 0 ] || [ -z "$ua" ] || [ -z "$ub" ]; then
    echo "error: round $round failed; the outputs: $out/a.$round.out, $out/b.$round.out" >&2
    exit 1
  fi
  printf '%5d  %8s  %8s  %.2f\n' "$round" "$ua" "$ub" "$(python3 -c "print($ub / $ua)")"
done
