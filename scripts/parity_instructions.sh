#!/usr/bin/env bash
# Counts the instructions the moto parity test spends (tests/pipeline_moto.rs, an import and a
# re-import through the AWS adapters and through the embedded store), under valgrind's callgrind.
#
# Why: the client CPU the parity test prints (µs per row) moves by 30 % between runs of one
# binary on the 2-core machine (README, Performance), far more than most changes it is meant to
# judge. An instruction count hardly moves between runs of the same binary, whatever else the
# machine does (the spread of two runs is in the README's Performance section), so two builds
# can be compared with a run or two each. It is not a time: valgrind
# hides SHA-NI (the SHA-256 of request bodies counts several times its native cost) and counts
# no cache misses or system calls. Use it to compare builds, and the parity test's µs per row
# (or `migrate bench`) for the figures themselves.
#
# Usage: scripts/parity_instructions.sh [--moto-only] [ROWS [CHUNK_ROWS [OUT]]]
#   --moto-only the AWS adapters' runs alone (PARITY_MOTO_ONLY=1: the embedded store's runs and
#               the comparisons are left out), and only the instructions of the tasks the
#               runtime runs (callgrind's --toggle-collect on tokio's task poll): every handler
#               invocation (TaskRunner spawns each one), the tasks they spawn (Verify's
#               read-ahead, Transform's chunk writes) and the HTTP connections' tasks; not the
#               test's own set-up and scans, nor the history delivery, which run in the test's
#               main future (only their requests' connection tasks are counted)
#   ROWS        rows per job (a multiple of 50; default 600)
#   CHUNK_ROWS  rows per chunk (a divisor of ROWS; default 300)
#   OUT         callgrind's output file, relative to the repository's root (default
#               target/parity.callgrind; read it with `callgrind_annotate --inclusive=yes OUT`)
# Needs valgrind (Debian's package) and moto: scripts/setup-test-tools.sh installs moto into
# ${XDG_CACHE_HOME:-~/.cache}/cqrs-migration-ci/venv, or set MOTO_PYTHON to a python with moto.
set -euo pipefail
cd "$(dirname "$0")/.."
moto_only=()
if [ "${1:-}" = "--moto-only" ]; then
  moto_only=(--toggle-collect='tokio::runtime::task::raw::poll*')
  export PARITY_MOTO_ONLY=1
  shift
else
  # A value left in the caller's environment would silently drop the comparisons.
  unset PARITY_MOTO_ONLY
fi
rows="${1:-600}"
chunk_rows="${2:-300}"
out="${3:-target/parity.callgrind}"
# The test's own rules (tests/pipeline_moto.rs): it silently runs 300 rows in chunks of 50
# otherwise, and the count printed would not be the one asked for.
if ! [[ "$rows" =~ ^[0-9]+$ && "$chunk_rows" =~ ^[0-9]+$ ]] || ((rows < 50 || rows % 50 != 0)) \
  || ((chunk_rows < 50 || rows % chunk_rows != 0)); then
  echo "error: ROWS must be a multiple of 50, CHUNK_ROWS at least 50 and a divisor of ROWS" >&2
  exit 2
fi

if ! command -v valgrind >/dev/null; then
  echo "error: valgrind not found (apt-get install valgrind)" >&2
  exit 2
fi
source scripts/parity_common.sh
parity_moto_python

# The release build of the parity test (built if needed), found from cargo's own report.
if ! bin="$(cargo test --release -p integration-tests --test pipeline_moto --no-run \
  --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and m["target"]["name"] == "pipeline_moto":
        print(m["executable"])
')" || [ -z "$bin" ]; then
  echo "error: could not build the parity test (cargo test --release -p integration-tests --test pipeline_moto)" >&2
  exit 1
fi

# A fresh moto for the run, started as scripts/test.sh starts it (stopped at exit).
source scripts/moto_env.sh
unset MOTO_ENDPOINT
start_moto "$moto_python" || exit 1
export_aws_env
export CI=true
export PARITY_ROWS="$rows" PARITY_CHUNK_ROWS="$chunk_rows"

run_log="$out.log"
if ! valgrind --tool=callgrind --callgrind-out-file="$out" "${moto_only[@]}" \
  "$bin" --nocapture --test-threads=1 --exact an_import_and_a_nested_update_on_moto_match_the_embedded_store >"$run_log" 2>&1; then
  echo "error: the parity test failed under callgrind; its output: $run_log" >&2
  exit 1
fi

total="$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$run_log" | tail -n 1)"
if [ -z "$total" ]; then
  echo "error: callgrind reported no instruction count; the run's output: $run_log" >&2
  exit 1
fi
echo "parity test, $rows rows in chunks of $chunk_rows: $total instructions ($out)"
# Our pipeline's largest inclusive costs, for a first look (awk reads all of its input: no
# SIGPIPE under pipefail, and no failure when nothing matches).
callgrind_annotate --inclusive=yes "$out" 2>/dev/null \
  | awk '/(^|[ :<])(shared|asl)::/ && n++ < 25' | sed -E 's/ \[[^]]*\]$//' || true
