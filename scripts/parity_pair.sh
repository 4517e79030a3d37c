#!/usr/bin/env bash
# Two builds of the moto parity test (tests/pipeline_moto.rs) run *at the same time*, each
# against a moto of its own, and the client CPU of each one's measured execution printed side
# by side, round after round.
#
# Why: on a machine whose speed moves (README, Performance: `calib.sh` between 1.3 and 4.7 s
# across sessions), one binary's runs one after the other spread by about a fifth, more than
# most changes it is meant to judge. Run together, both builds see the same host at the same
# time, so a slower host slows both (the two measured executions overlap only roughly, so it
# does not remove the noise: run several rounds). With a build measured at the machine's usual
# speed as one of the two, the ratio scales that figure to the other build, for the same
# measure only (a ratio at 600 rows scales a figure at 600 rows, not a slope).
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
for bin in "$a" "$b"; do
  [ -x "$bin" ] || { echo "error: $bin is not an executable test binary" >&2; exit 2; }
done
moto_python="${MOTO_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/cqrs-migration-ci/venv/bin/python}"
if ! "$moto_python" -c 'import moto.server, waitress' 2>/dev/null; then
  echo "error: no moto and waitress in $moto_python (run scripts/setup-test-tools.sh, or set MOTO_PYTHON)" >&2
  exit 2
fi
out=target/parity-pair
mkdir -p "$out"

# One run: a moto of its own (stopped when the subshell exits), the test, its output kept.
run() {
  (
    source scripts/moto_env.sh
    unset MOTO_ENDPOINT
    start_moto "$moto_python" || exit 1
    export_aws_env
    export CI=true PARITY_WARM=1 PARITY_ROWS="$rows" PARITY_CHUNK_ROWS="$chunk_rows"
    "$1" --nocapture --test-threads=1 --exact \
      an_import_and_a_nested_update_on_moto_match_the_embedded_store
  ) >"$2" 2>&1
}

# µs per row of the measured import (parity-1), from the test's own report.
per_row() {
  sed -n 's/^.*parity-1 on moto:.*client CPU of the execution [0-9.]* s (\([0-9]*\) µs per row.*$/\1/p' "$1" | head -n 1
}

echo "round  A µs/row  B µs/row  B/A"
for round in $(seq 1 "$rounds"); do
  run "$a" "$out/a.$round.out" &
  pid_a=$!
  # Not at the same instant: each moto takes a free port first, and two probes at once could be
  # handed the same one.
  sleep 2
  run "$b" "$out/b.$round.out" &
  pid_b=$!
  status=0
  wait "$pid_a" || status=1
  wait "$pid_b" || status=1
  ua="$(per_row "$out/a.$round.out")"
  ub="$(per_row "$out/b.$round.out")"
  if [ "$status" -ne 0 ] || [ -z "$ua" ] || [ -z "$ub" ]; then
    echo "error: round $round failed; the outputs: $out/a.$round.out, $out/b.$round.out" >&2
    exit 1
  fi
  printf '%5d  %8s  %8s  %.2f\n' "$round" "$ua" "$ub" "$(python3 -c "print($ub / $ua)")"
done
