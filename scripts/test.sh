#!/usr/bin/env bash
# Install hyperf with its test extras into .venv and run the whole test suite.
# CPU machines get the CPU wheel of torch via constraints/cpu.txt; on a CUDA machine run
#   HYPERF_CONSTRAINTS= bash scripts/test.sh
# to let pip pick a CUDA build instead.
set -euo pipefail
cd "$(dirname "$0")/.."
constraints="${HYPERF_CONSTRAINTS-constraints/cpu.txt}"
python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet ${constraints:+-c "$constraints"} -e '.[test,triton]'
ruff check .
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
