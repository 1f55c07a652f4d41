#!/usr/bin/env bash
# Install hyperf into .venv and run its main job: calibrate the device (once), sweep
# sweeps/quick.yaml on the default device (CUDA if present, else CPU) into reports/hyperf.db,
# write reports/quick.html (with quick.md and CSVs) and print the headline table.
# CPU machines get the CPU wheel of torch via constraints/cpu.txt; on a CUDA machine run
#   HYPERF_CONSTRAINTS= bash scripts/run.sh
# HYPERF_SPEC and HYPERF_REPORTS choose another spec and output folder; HYPERF_SKIP_INSTALL=1
# uses the current environment (the test suite runs the main job that way on a tiny spec).
set -euo pipefail
cd "$(dirname "$0")/.."
constraints="${HYPERF_CONSTRAINTS-constraints/cpu.txt}"
spec="${HYPERF_SPEC:-sweeps/quick.yaml}"
out="${HYPERF_REPORTS:-reports}"
name="$(basename "$spec" .yaml)"
if [ -z "${HYPERF_SKIP_INSTALL:-}" ]; then
  python3 -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
  python -m pip install --quiet ${constraints:+-c "$constraints"} -e .
fi
hyperf list
# Ceilings (matmul rate, copy bandwidth) for the report's roofline fractions: measured once per
# machine and cached in ~/.cache/hyperf/ceilings.json (HYPERF_CACHE_DIR to move it).
hyperf calibrate --if-missing
# Profile the training step of order-2, depth-1 points too (after timing them): the report's
# "Where the time goes" section draws their stages.
profile='depth=1,order=2,mode=fwd_bwd,op!=attention:naive'
# The dry run's wall-time estimate first (its last line), then the sweep, timed against it.
hyperf sweep "$spec" --db "$out/hyperf.db" --profile-filter "$profile" --dry-run "$@" | tail -n 1
started=$SECONDS
hyperf sweep "$spec" --db "$out/hyperf.db" --profile-filter "$profile" "$@"
echo "the sweep took $((SECONDS - started)) s"
hyperf runs --db "$out/hyperf.db"
hyperf report --db "$out/hyperf.db" -o "$out/$name.html"
