#!/usr/bin/env bash
# Installs what the tests need, so that `bash scripts/test.sh` is the whole setup on a fresh
# machine (only the package registries are needed): a virtualenv with moto, cfn-lint,
# aws-sam-cli, cargo-lambda and ziglang (.ci/requirements.txt, pinned); asl-validator (npm);
# the MBC framework and its AWS SDK peers for the conformance test (tests/mbc, npm ci); the
# aarch64 Rust target when rustup can fetch it. Everything is cached between runs under
# ${XDG_CACHE_HOME:-~/.cache}/cqrs-migration-ci and re-installed only when its pins change.
# Prints the PATH additions for scripts/test.sh to eval.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/cqrs-migration-ci"
mkdir -p "$cache"

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# PyPI tools in a virtualenv (reused while .ci/requirements.txt is unchanged).
venv="$cache/venv"
want="$(sha256sum .ci/requirements.txt | cut -d' ' -f1)"
if [ ! -x "$venv/bin/pip" ] || ! stamp_ok "$venv/.requirements.sha256" "$want"; then
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
  fi
  echo "setup: pip install -r .ci/requirements.txt" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r .ci/requirements.txt >&2
  echo "$want" >"$venv/.requirements.sha256"
fi

# npm: asl-validator.
node_prefix="$cache/node"
if [ ! -x "$node_prefix/node_modules/.bin/asl-validator" ]; then
  echo "setup: npm install asl-validator" >&2
  npm install --silent --no-audit --no-fund --prefix "$node_prefix" asl-validator@4.0.0 >&2
fi

# npm: the MBC framework for the conformance test (tests/mbc/run.sh checks the lock stamp too).
(cd tests/mbc && {
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if ! stamp_ok node_modules/.package-lock.sha256 "$want"; then
    echo "setup: npm ci (tests/mbc)" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$want" >node_modules/.package-lock.sha256
  fi
})

# The Lambdas run on arm64; scripts/check-infra.sh falls back to x86_64 when this cannot be had.
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
  || echo "note: could not add the aarch64-unknown-linux-gnu target" >&2

echo "export PATH=\"$venv/bin:$node_prefix/node_modules/.bin:\$PATH\""
