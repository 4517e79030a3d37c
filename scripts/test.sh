#!/usr/bin/env bash
# Runs every test of the workspace: unit, port contract (SQLite), end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
