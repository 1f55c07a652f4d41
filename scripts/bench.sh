#!/usr/bin/env bash
# Run the pytest-benchmark suite (tests/benchmarks) in several processes and write one JSON,
# raw samples and process boundaries included, for the regression gate:
#   bash scripts/bench.sh [OUT.json] [extra pytest arguments...]
# OUT.json defaults to .benchmarks/latest.json. Without CUDA the CPU part runs (about 45 s a
# process on 2 cores) and GPU cases skip; with CUDA everything runs.
# HYPERF_BENCH_PROCESSES (default 3): how many times the suite runs, each in its own process.
# Whole processes drift on a shared machine by more than one run's CI shows; `hyperf bench
# compare` treats processes as the independent units when both files hold two or more.
# Per-case sampling budget: --benchmark-max-time (default 1 s), as an extra argument.
set -euo pipefail
out="${1:-}"
shift || true
if [ -n "$out" ]; then
  out="$(realpath -m "$out")" # relative to the caller's directory, before the cd below
fi
cd "$(dirname "$0")/.."
out="${out:-$PWD/.benchmarks/latest.json}"
processes="${HYPERF_BENCH_PROCESSES:-3}"
mkdir -p "$(dirname "$out")"
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
parts="$(mktemp -d)"
trap 'rm -rf "$parts"' EXIT
start=$(date +%s%N)
for i in $(seq 1 "$processes"); do
  set +e
  # pyproject's addopts disable benchmarks for the plain test run; --benchmark-enable wins.
  python -m pytest tests/benchmarks --benchmark-enable --benchmark-only \
    --benchmark-json="$parts/run-$i.json" --benchmark-save-data "$@"
  status=$?
  set -e
  if [ "$status" -eq 5 ]; then
    echo "pytest collected no benchmarks" >&2
    exit 1
  fi
  if [ "$status" -ne 0 ]; then
    exit "$status"
  fi
done
hyperf bench merge "$out" "$parts"/run-*.json
ms=$((($(date +%s%N) - start) / 1000000))
printf 'benchmark suite: %d process(es), %d.%03d s wall; JSON in %s\n' "$processes" \
  $((ms / 1000)) $((ms % 1000)) "$out" >&2
