#!/usr/bin/env bash
# Install hyperf into .venv and run its main job on the default device.
# CPU machines get the CPU wheel of torch via constraints/cpu.txt; on a CUDA machine run
#   HYPERF_CONSTRAINTS= bash scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
constraints="${HYPERF_CONSTRAINTS-constraints/cpu.txt}"
python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet ${constraints:+-c "$constraints"} -e .
hyperf list
