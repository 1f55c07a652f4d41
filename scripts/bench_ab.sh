#!/usr/bin/env bash
# Interleaved A/B runs of the benchmark suite: BASE_REF (a commit) against this working tree,
# alternating one process of each, then the regression gate on the two merged files:
#   bash scripts/bench_ab.sh BASE_REF [OUT_DIR] [extra pytest arguments...]
# Writes OUT_DIR/base.json and OUT_DIR/new.json (default .benchmarks/ab) and exits as
# `hyperf bench compare` does (1 on a regression). Why interleave: on a shared machine whole
# runs drift (two runs of one commit a minute apart differed by 30-40 %); alternating the two
# trees spreads that drift over both sides, where the gate's process-level test sees it as
# noise instead of a change. HYPERF_BENCH_PROCESSES (default 5) processes per side.
# BASE_REF must contain tests/benchmarks; both trees run in this checkout's .venv.
# HYPERF_AB_THRESHOLDS: a thresholds file for the gate (default: 10 % for every group).
set -euo pipefail
base_ref="${1:?usage: bench_ab.sh BASE_REF [OUT_DIR] [pytest args...]}"
out="${2:-}"
shift 2 || shift $#
if [ -n "$out" ]; then
  out="$(realpath -m "$out")"
fi
cd "$(dirname "$0")/.."
here="$PWD"
out="${out:-$here/.benchmarks/ab}"
processes="${HYPERF_BENCH_PROCESSES:-5}"
mkdir -p "$out"
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
work="$(mktemp -d)"
cleanup() {
  git -C "$here" worktree remove --force "$work/base" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
git worktree add --quiet --detach "$work/base" "$base_ref"
if [ ! -d "$work/base/tests/benchmarks" ]; then
  echo "error: $base_ref has no tests/benchmarks to run" >&2
  exit 2
fi
run() { # TREE NAME: one process of the suite in TREE, its own hyperf first on the path
  (cd "$1" && PYTHONPATH="$1" python -m pytest tests/benchmarks -q --benchmark-enable \
    --benchmark-only --benchmark-json="$work/$2.json" --benchmark-save-data "${@:3}" \
    >"$work/$2.log" 2>&1) || {
    echo "error: the suite failed in $1 (log below)" >&2
    tail -20 "$work/$2.log" >&2
    exit 2
  }
}
start=$(date +%s)
for i in $(seq 1 "$processes"); do
  if [ $((i % 2)) -eq 1 ]; then # alternate which side goes first
    run "$work/base" "base-$i" "$@"
    run "$here" "new-$i" "$@"
  else
    run "$here" "new-$i" "$@"
    run "$work/base" "base-$i" "$@"
  fi
  echo "pair $i of $processes done ($(($(date +%s) - start)) s)" >&2
done
hyperf bench merge "$out/base.json" "$work"/base-*.json
hyperf bench merge "$out/new.json" "$work"/new-*.json
# Interleaved, the two sides share the machine's drift: a 10 % threshold holds here (A/A: no
# regression of 8; pyproject's 50 % for CPU groups is for baselines stored from another time).
thresholds="${HYPERF_AB_THRESHOLDS:-$work/thresholds.toml}"
[ -n "${HYPERF_AB_THRESHOLDS:-}" ] || printf 'default = 0.10\n' >"$thresholds"
hyperf bench compare "$out/base.json" "$out/new.json" --thresholds "$thresholds"
