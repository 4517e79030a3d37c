#!/usr/bin/env bash
# Offline infrastructure checks. Each validator must pass on the real file and fail on a
# deliberately broken copy (so a validator that checks nothing would be noticed):
#   cfn-lint, sam validate --lint, asl-validator, and `cargo lambda build` of every function
#   named in template.yaml for arm64 (a bootstrap per function), with the `lambda-check` profile
#   (Cargo.toml says why); MIGRATE_LAMBDA_PROFILE=release builds them as a deploy does.
# Tools come from .ci/run (PyPI: cfn-lint, aws-sam-cli, cargo-lambda, ziglang; npm: asl-validator).
# A missing tool is skipped with a note, except under CI, where it is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY=0

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

have() {
  if command -v "$1" >/dev/null 2>&1; then return 0; fi
  if [ -n "${CI:-}" ]; then
    echo "FAIL $1 is not installed (CI must install it: see .ci/run)" >&2
    failures=$((failures + 1))
  else
    echo "skip $1 is not installed" >&2
  fi
  return 1
}

expect_pass() {
  local name="$1"; shift
  if "$@" >"$tmp/out" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name"; sed 's/^/     /' "$tmp/out"; failures=$((failures + 1))
  fi
}

# expect_fail NAME PATTERN COMMAND...: the command must fail, and for the reason PATTERN names
# (so a broken copy rejected for some other reason does not count).
expect_fail() {
  local name="$1" pattern="$2"; shift 2
  if "$@" >"$tmp/out" 2>&1; then
    echo "FAIL $name: the broken copy passed"; failures=$((failures + 1))
  elif grep -qE "$pattern" "$tmp/out"; then
    echo "ok   $name (rejected: $(grep -m1 -E "$pattern" "$tmp/out" | cut -c1-110))"
  else
    echo "FAIL $name: rejected, but not for $pattern:"; sed 's/^/     /' "$tmp/out"; failures=$((failures + 1))
  fi
}

# Broken copies, one per validator.
mkdir -p "$tmp/lint" "$tmp/sam"
sed 's/"Next": "Verify"/"Next": "NoSuchState"/' infra/statemachine.asl.json >"$tmp/broken.asl.json"
sed 's/BillingMode: PAY_PER_REQUEST/BillingMode: PAY_AS_YOU_GO/' template.yaml >"$tmp/lint/template.yaml"
sed 's/VerifyFunctionArn: !GetAtt VerifyFunction.Arn/VerifyFunctionArn: !GetAtt NoSuchFunction.Arn/' template.yaml >"$tmp/sam/template.yaml"
cp -r infra "$tmp/sam/" && cp -r infra "$tmp/lint/"
cmp -s "$tmp/broken.asl.json" infra/statemachine.asl.json && { echo "FAIL the ASL break did not apply"; failures=$((failures + 1)); }
cmp -s "$tmp/lint/template.yaml" template.yaml && { echo "FAIL the cfn-lint break did not apply"; failures=$((failures + 1)); }
cmp -s "$tmp/sam/template.yaml" template.yaml && { echo "FAIL the SAM break did not apply"; failures=$((failures + 1)); }

if have cfn-lint; then
  expect_pass "cfn-lint template.yaml" cfn-lint template.yaml
  expect_fail "cfn-lint on a broken copy" "E3030 'PAY_AS_YOU_GO'" cfn-lint "$tmp/lint/template.yaml"
fi
if have sam; then
  expect_pass "sam validate --lint" sam validate --lint --template-file template.yaml
  expect_fail "sam validate --lint on a broken copy" "E1010.*NoSuchFunction" sam validate --lint --template-file "$tmp/sam/template.yaml"
fi
if have asl-validator; then
  expect_pass "asl-validator infra/statemachine.asl.json" asl-validator --json-path infra/statemachine.asl.json
  expect_fail "asl-validator on a broken copy" "MISSING_TRANSITION_TARGET.*NoSuchState" asl-validator --json-path "$tmp/broken.asl.json"
fi

if have cargo-lambda; then
  # Every function the template names, by its Binary.
  binaries="$(sed -n 's/.*BuildProperties: { Binary: \([a-z0-9-]*\) }.*/\1/p' template.yaml | sort -u)"
  args=()
  for b in $binaries; do args+=(--package "$b"); done
  installed_targets="$(rustup target list --installed 2>/dev/null || true)"
  if grep -qx 'aarch64-unknown-linux-gnu' <<<"$installed_targets"; then
    arch=--arm64
  else
    # The template deploys arm64; without that Rust target (it cannot be fetched here) the same
    # build is proven for x86_64, and `sam build` builds arm64 where the target exists.
    echo "note: Rust target aarch64-unknown-linux-gnu is not installed; building for x86_64" >&2
    arch=--x86-64
  fi
  # `--release` is what `sam build` runs (cargo-lambda adds its optimisations to that profile
  # only); any other profile is passed as it is.
  lambda_profile="${MIGRATE_LAMBDA_PROFILE:-lambda-check}"
  if [ "$lambda_profile" = release ]; then
    profile_args=(--release)
  else
    profile_args=(--profile "$lambda_profile")
  fi
  expect_pass "cargo lambda build ${profile_args[*]} $arch ($(echo $binaries | wc -w) functions)" \
    cargo lambda build "${profile_args[@]}" "$arch" "${args[@]}"
  for b in $binaries; do
    if [ -s "target/lambda/$b/bootstrap" ]; then
      echo "ok   target/lambda/$b/bootstrap ($(du -h "target/lambda/$b/bootstrap" | cut -f1))"
    else
      echo "FAIL target/lambda/$b/bootstrap was not built"; failures=$((failures + 1))
    fi
  done
  expect_fail "cargo lambda build of a binary the workspace lacks" "migration-no-such-function" \
    cargo lambda build "${profile_args[@]}" "$arch" --package migration-no-such-function
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures infrastructure check(s) failed" >&2
  exit 1
fi
echo "infrastructure checks passed"
