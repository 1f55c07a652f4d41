#!/usr/bin/env bash
# Install hyperf into .venv and run its main job: calibrate the device (once), sweep the
# default device's spec (CUDA if present: sweeps/gpu_default.yaml, the paper's setting eager
# and as CUDA graphs; else the CPU: sweeps/quick.yaml) into reports/hyperf.db, write
# reports/NAME.html (with NAME.md and CSVs) and print the headline table.
# CPU machines get the CPU wheel of torch via constraints/cpu.txt; on a CUDA machine run
#   HYPERF_CONSTRAINTS= bash scripts/run.sh
# HYPERF_SPEC and HYPERF_REPORTS choose another spec and output folder; HYPERF_SKIP_INSTALL=1
# uses the current environment (the test suite runs the main job that way on a tiny spec).
set -euo pipefail
cd "$(dirname "$0")/.."
constraints="${HYPERF_CONSTRAINTS-constraints/cpu.txt}"
out="${HYPERF_REPORTS:-reports}"
if [ -z "${HYPERF_SKIP_INSTALL:-}" ]; then
  python3 -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
  python -m pip install --quiet ${constraints:+-c "$constraints"} -e .
fi
if [ -z "${HYPERF_SPEC:-}" ] && python3 -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  spec=sweeps/gpu_default.yaml
else
  spec="${HYPERF_SPEC:-sweeps/quick.yaml}"
fi
name="$(basename "$spec" .yaml)"
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
