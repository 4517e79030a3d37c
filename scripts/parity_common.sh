# Sourced (not run) by parity_pair.sh, parity_slope.sh and parity_instructions.sh: what they
# share to run the moto parity test (tests/pipeline_moto.rs) and read its report. The caller
# has cd'd to the repository's root.
#
#   parity_moto_python   sets moto_python to a python with moto and waitress (MOTO_PYTHON, or
#                        scripts/setup-test-tools.sh's venv); exits 2 with a hint when there is none
#   parity_setup OUT BIN...
#                        what a script that runs given builds does first: exits 2 unless each BIN
#                        is an executable file, then parity_moto_python, then makes the folder OUT
#   parity_run BIN ROWS CHUNK_ROWS OUT
#                        one warm run (PARITY_WARM=1) of the parity test binary BIN against a moto
#                        of its own (stopped when the run ends), its output in OUT
#   parity_per_row OUT   the measured import's (parity-1) client CPU in µs per row, from the
#                        test's own report in OUT (empty when the run printed none)

parity_moto_python() {
  moto_python="${MOTO_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/cqrs-migration-ci/venv/bin/python}"
  if ! "$moto_python" -c 'import moto.server, waitress' 2>/dev/null; then
    echo "error: no moto and waitress in $moto_python (run scripts/setup-test-tools.sh, or set MOTO_PYTHON)" >&2
    exit 2
  fi
}

parity_setup() {
  local out="$1" bin
  shift
  for bin in "$@"; do
    [ -f "$bin" ] && [ -x "$bin" ] || { echo "error: $bin is not an executable test binary" >&2; exit 2; }
  done
  parity_moto_python
  mkdir -p "$out"
}

parity_run() {
  (
    source scripts/moto_env.sh
    unset MOTO_ENDPOINT
    start_moto "$moto_python" || exit 1
    export_aws_env
    export CI=true PARITY_WARM=1 PARITY_ROWS="$2" PARITY_CHUNK_ROWS="$3"
    "$1" --nocapture --test-threads=1 --exact \
      an_import_and_a_nested_update_on_moto_match_the_embedded_store
  ) >"$4" 2>&1
}

parity_per_row() {
  sed -n 's/^.*parity-1 on moto:.*client CPU of the execution [0-9.]* s (\([0-9]*\) µs per row.*$/\1/p' "$1" | head -n 1
}
