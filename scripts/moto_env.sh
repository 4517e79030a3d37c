# Sourced (not run) by scripts/test.sh, parity_instructions.sh and parity_common.sh: starts a
# private moto and points the AWS SDK's standard environment at it, so the adapters are
# configured exactly as in a Lambda.
#
#   start_moto PYTHON   starts scripts/moto_serial.py (moto serving one request at a time: its
#                       threaded server races on concurrent TransactWriteItems) with PYTHON on a
#                       free loopback port, waits until it answers, and sets MOTO_ENDPOINT and
#                       moto_pid. It stops that moto (and only it) when the calling script exits
#                       (an EXIT trap: it replaces one the caller set; call it once per script).
#                       Returns 1, with moto's log on stderr, when moto does not start.
#   export_aws_env      exports the AWS variables for the moto at MOTO_ENDPOINT.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_moto() {
  local python="$1" port log
  port="$(free_port)"
  log="${TMPDIR:-/tmp}/moto-$port.log"
  "$python" "$(dirname "${BASH_SOURCE[0]}")/moto_serial.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  moto_pid=$!
  # SIGKILL: a moto stopped with SIGTERM can keep a core busy for minutes after the run.
  trap 'kill -9 "$moto_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 150); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/reset', data=b'')" 2>/dev/null; then
      export MOTO_ENDPOINT="http://127.0.0.1:$port"
      echo "moto_server on $MOTO_ENDPOINT (pid $moto_pid, log $log)" >&2
      return 0
    fi
    # Gone already (a missing module, a bad port): no point in waiting out the 30 s.
    kill -0 "$moto_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "error: moto did not start on port $port; its log ($log):" >&2
  cat "$log" >&2
  return 1
}

export_aws_env() {
  export AWS_ENDPOINT_URL="$MOTO_ENDPOINT"
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  unset AWS_PROFILE AWS_SESSION_TOKEN
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}
