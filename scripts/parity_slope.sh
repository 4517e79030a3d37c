#!/usr/bin/env bash
# The client CPU per row the performance target is about, for one or two builds of the moto
# parity test (tests/pipeline_moto.rs): the warm slope between a small and a large job, each
# build's runs alternated one after the other with the other's.
#
# Why the slope: a job costs some requests whatever its size (the job row, the manifest, the first
# read of each table); the difference between two sizes, per row, is what each further row costs,
# the figure of the target ("client CPU ≤ 50 µs per row"). Why alternated: this machine's speed
# moves between and within sessions (README, Performance, and the log in docs/), so a build's figure
# alone says little unless a build of known figure ran beside it; the eleventh session's 250037b is
# one (≈52 µs per row at the machine's usual speed). Unlike scripts/parity_pair.sh the runs do not
# overlap (two 1,200-row jobs at once take more memory than moto has here).
#
# Usage: scripts/parity_slope.sh A [B] [ROUNDS [SMALL [LARGE]]]
#   A, B    pipeline_moto test binaries (copy target/release/deps/pipeline_moto-* out of each
#           build; `cargo test --release -p integration-tests --test pipeline_moto --no-run`
#           prints the path); B may be left out, or given as - to measure A alone
#   ROUNDS  rounds (default 2); each runs every build at SMALL and at LARGE
#   SMALL   rows of the small job (default 300)
#   LARGE   rows of the large job (default 1200; 9–14 minutes a run here, moto's time)
# Every run is warm (PARITY_WARM=1), in chunks of 300 rows (SMALL and LARGE must be multiples
# of 300). Each run's output is kept in target/parity-slope/. Needs moto, as
# scripts/parity_instructions.sh (MOTO_PYTHON, or scripts/setup-test-tools.sh's venv).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  sed -n '14,23p' "$0" >&2
  exit 2
fi
builds=("$(realpath "$1")")
if [ -n "${2:-}" ] && [ "$2" != "-" ]; then
  builds+=("$(realpath "$2")")
fi
rounds="${3:-2}"
small="${4:-300}"
large="${5:-1200}"
chunk_rows=300
if ! [[ "$rounds" =~ ^[0-9]+$ && "$small" =~ ^[0-9]+$ && "$large" =~ ^[0-9]+$ ]] \
  || ((rounds < 1 || small < chunk_rows || small % chunk_rows != 0 || large <= small \
    || large % chunk_rows != 0)); then
  echo "error: ROUNDS at least 1; SMALL and LARGE multiples of $chunk_rows, LARGE above SMALL" >&2
  exit 2
fi
source scripts/parity_common.sh
out=target/parity-slope
parity_setup "$out" "${builds[@]}"

# The measured execution's client CPU in seconds, as µs per row × rows (the test prints µs per
# row to the unit: steps of 0.3 ms at 300 rows, 1.2 ms at 1,200; its seconds to the ms).
cpu_seconds() {
  local per_row
  per_row="$(parity_per_row "$1")"
  [ -n "$per_row" ] && python3 -c "print($per_row * $2 / 1e6)"
}

names=(A B)
results="$out/results.tsv"
: >"$results"
for round in $(seq 1 "$rounds"); do
  # The order turns each round, so neither build always runs first at a size.
  order=("${!builds[@]}")
  if ((round % 2 == 0)); then
    order=($(printf '%s\n' "${order[@]}" | tac))
  fi
  for rows in "$small" "$large"; do
    for i in "${order[@]}"; do
      name="${names[$i]}"
      file="$out/$name.$rows.$round.out"
      if ! parity_run "${builds[$i]}" "$rows" "$chunk_rows" "$file" || ! seconds="$(cpu_seconds "$file" "$rows")"; then
        echo "error: build $name at $rows rows, round $round, failed; its output: $file" >&2
        exit 1
      fi
      printf '%s\t%s\t%s\t%s\n' "$i" "$rows" "$round" "$seconds" >>"$results"
      echo "round $round, build $name, $rows rows: client CPU $seconds s" >&2
    done
  done
done

# Per build: the mean at each size and the slope between them (± the standard error of the two
# means, from two rounds on); with two builds, B's slope as a share of A's. Each round runs its
# small jobs before its large ones: a drift of the machine's speed within a round is not in the
# errors.
python3 - "$results" "$small" "$large" "${builds[@]}" <<'EOF'
import statistics, sys
path, small, large, builds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
runs = {}
for line in open(path):
    i, rows, _, seconds = line.split("\t")
    runs.setdefault((int(i), int(rows)), []).append(float(seconds))
slopes = []
for i, bin in enumerate(builds):
    a, b = runs[(i, small)], runs[(i, large)]
    slope = (statistics.mean(b) - statistics.mean(a)) / (large - small) * 1e6
    slopes.append(slope)
    print(f"{'AB'[i]} {bin}")
    for rows, xs in ((small, a), (large, b)):
        print(f"  {rows} rows: " + ", ".join(f"{x:.4f}" for x in xs) + f" s (mean {statistics.mean(xs):.4f})")
    error = ""
    if len(a) > 1 and len(b) > 1:
        se = (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
        error = f" ± {se / (large - small) * 1e6:.1f}"
    print(f"  slope {small} -> {large}: {slope:.1f}{error} µs per row")
if len(slopes) == 2:
    print(f"B/A: {slopes[1] / slopes[0]:.2f}")
EOF
