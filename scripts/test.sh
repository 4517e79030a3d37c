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

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -z "${MOTO_ENDPOINT:-}" ]; then
  moto_python="$(command -v python3)"
  if [ -n "$(command -v moto_server || true)" ]; then
    # The python of the environment moto is installed in.
    moto_python="$(dirname "$(command -v moto_server)")/python3"
  fi
  if "$moto_python" -c 'import moto.server' 2>/dev/null; then
    port="$(free_port)"
    log="${TMPDIR:-/tmp}/moto-$port.log"
    "$moto_python" scripts/moto_serial.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    moto_pid=$!
    trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 1 150); do
      if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/reset', data=b'')" 2>/dev/null; then
        export MOTO_ENDPOINT="http://127.0.0.1:$port"
        break
      fi
      sleep 0.2
    done
    if [ -z "${MOTO_ENDPOINT:-}" ]; then
      echo "moto_server did not start on port $port; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    echo "moto_server on $MOTO_ENDPOINT (pid $moto_pid, log $log)" >&2
  else
    echo "note: moto_server not found (pip install 'moto[server]'); AWS adapter tests will be skipped${CI:+ - and fail, because CI is set}" >&2
  fi
fi

if [ -n "${MOTO_ENDPOINT:-}" ]; then
  export AWS_ENDPOINT_URL="$MOTO_ENDPOINT"
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
fi

cargo test --workspace --all-targets "$@"

# The MBC framework itself (npm) reads, updates and re-publishes the items `migrate` writes.
bash tests/mbc/run.sh

# Offline infrastructure checks (validators on real and broken copies; cargo lambda build).
bash scripts/check-infra.sh
