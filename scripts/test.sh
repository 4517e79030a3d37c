#!/usr/bin/env bash
# Runs every test of the workspace: unit, port contracts (SQLite and moto), end-to-end, handlers
# with the official event fixtures, infrastructure checks.
#
# The AWS adapter tests need moto. This script starts `moto_server` on a free loopback port when
# it is installed (on PATH, or MOTO_SERVER=/path/to/moto_server) and stops it at exit; or it uses
# a running one given as MOTO_ENDPOINT. It exports the standard AWS variables pointing at moto,
# so the adapters are configured exactly as in a Lambda. Without moto those tests are skipped
# with a note, except under CI (CI set), where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -z "${MOTO_ENDPOINT:-}" ]; then
  moto_bin="${MOTO_SERVER:-$(command -v moto_server || true)}"
  if [ -n "$moto_bin" ]; then
    port="$(free_port)"
    log="${TMPDIR:-/tmp}/moto-$port.log"
    "$moto_bin" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
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

# Offline infrastructure checks (validators on real and broken copies; cargo lambda build).
bash scripts/check-infra.sh
