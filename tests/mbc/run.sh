#!/usr/bin/env bash
# Conformance test against the MBC CQRS Serverless framework itself (@mbc-cqrs-serverless/core,
# pinned in package.json): the items `migrate` writes are loaded into moto and read, updated and
# compared by the framework's own classes. See conformance.test.js.
#
#   MOTO_ENDPOINT=http://127.0.0.1:5055 bash tests/mbc/run.sh
#
# Env: MOTO_ENDPOINT (a running moto_server; scripts/test.sh starts one), MIGRATE_BIN (default
# target/debug/migrate of this workspace), MBC_LOG=1 for the framework's logs.
# Without MOTO_ENDPOINT the test is skipped with a note, except under CI (CI set), where it fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ -z "${MOTO_ENDPOINT:-}" ]; then
  if [ -n "${CI:-}" ]; then
    echo "error: tests/mbc: MOTO_ENDPOINT is not set (the URL of a running moto_server); CI requires this test" >&2
    exit 1
  fi
  echo "note: tests/mbc skipped: MOTO_ENDPOINT is not set (start moto_server -H 127.0.0.1 -p PORT and set MOTO_ENDPOINT=http://127.0.0.1:PORT)" >&2
  exit 0
fi

export MIGRATE_BIN="${MIGRATE_BIN:-$here/../../target/debug/migrate}"

# npm ci only when node_modules is missing or was installed from another lock file.
stamp="$here/node_modules/.package-lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "tests/mbc: npm ci" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi

cd "$here"
exec node --test --test-reporter=spec ./*.test.js
