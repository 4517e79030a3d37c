#!/usr/bin/env bash
# Runs every test of the workspace: unit, port contracts (SQLite and moto), end-to-end, handlers
# with the official event fixtures, the MBC framework conformance test, infrastructure checks.
#
# First it installs what the tests need (scripts/setup-test-tools.sh: moto, cfn-lint, sam,
# cargo-lambda, asl-validator, the MBC framework from npm; cached), so on a fresh machine this
# command is the whole setup. MIGRATE_TEST_SETUP=0 skips the installs (tools already on PATH).
#
# The AWS adapter tests need moto. This script starts moto on a free loopback port, serving one
# request at a time (scripts/moto_serial.py: moto's threaded server races on concurrent
# TransactWriteItems), and stops it at exit; or it uses a running one given as MOTO_ENDPOINT.
# It exports the standard AWS variables pointing at moto, so the adapters are configured
# exactly as in a Lambda. Without moto those tests are skipped with a note, except under CI
# (CI set), where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase says how long it took when it ends (CI's budget: README, "Tests").
phase_start=$SECONDS
phase_done() {
  echo "phase: $1 took $((SECONDS - phase_start)) s" >&2
  phase_start=$SECONDS
}

if [ "${MIGRATE_TEST_SETUP:-1}" != 0 ]; then
  if paths="$(bash scripts/setup-test-tools.sh)"; then
    eval "$paths"
  elif [ -n "${CI:-}" ]; then
    echo "error: installing the test tools failed (scripts/setup-test-tools.sh)" >&2
    exit 1
  else
    echo "note: installing the test tools failed; tests that need them will be skipped" >&2
  fi
fi
phase_done "installing the test tools"

# free_port, start_moto, export_aws_env (shared with scripts/parity_instructions.sh).
source scripts/moto_env.sh

if [ -z "${MOTO_ENDPOINT:-}" ]; then
  moto_python="$(command -v python3)"
  if [ -n "$(command -v moto_server || true)" ]; then
    # The python of the environment moto is installed in.
    moto_python="$(dirname "$(command -v moto_server)")/python3"
  fi
  if "$moto_python" -c 'import moto.server' 2>/dev/null; then
    start_moto "$moto_python"
  else
    echo "note: moto_server not found (pip install 'moto[server]'); AWS adapter tests will be skipped${CI:+ - and fail, because CI is set}" >&2
  fi
fi

if [ -n "${MOTO_ENDPOINT:-}" ]; then
  export_aws_env
fi

# A CI run builds once from nothing: incremental state would only take disk (gigabytes with the
# SDK) and time.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi

# `--tests`: every target whose `test` is on (the libraries' unit tests, the integration tests and
# the binaries they run). `--all-targets` would also link a test harness for each binary and
# library marked `test = false` (the functions, `migrate`, the tests' support library), each with
# the AWS SDK and no test in it. The workspace has no examples or benches.
cargo test --workspace --tests "$@"
phase_done "cargo test (build and run)"

# The MBC framework itself (npm) reads, updates and re-publishes the items `migrate` writes.
bash tests/mbc/run.sh
phase_done "the MBC conformance test"

# Offline infrastructure checks (validators on real and broken copies; cargo lambda build).
bash scripts/check-infra.sh
phase_done "the infrastructure checks"
