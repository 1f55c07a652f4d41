#!/usr/bin/env bash
# Install hyperf with its test extras into .venv and run the whole test suite.
# CPU machines get the CPU wheel of torch via constraints/cpu.txt; on a CUDA machine run
#   HYPERF_CONSTRAINTS= bash scripts/test.sh
# to let pip pick a CUDA build instead. The tb and hta extras let the profile tests start a real
# TensorBoard and (on a GPU) run Holistic Trace Analysis.
set -euo pipefail
cd "$(dirname "$0")/.."
constraints="${HYPERF_CONSTRAINTS-constraints/cpu.txt}"
# The report is tested in a real browser: Debian's Chromium (needs root; skipped otherwise).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -q chromium >/dev/null 2>&1 ||
    (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) ||
    echo "warning: could not install chromium; the browser test will be skipped" >&2
fi
python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet ${constraints:+-c "$constraints"} -e '.[test,triton,tb,hta]'
ruff check .
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
if [ "$status" -ne 0 ] || [ "$#" -gt 0 ]; then
  exit "$status" # a run of chosen tests stops here
fi
# The benchmark suite's CPU part, timed (one process, short budget: about a minute), and the
# regression gate on its own output, so neither rots. Comparing a file with itself (one
# process a side: the within-run test) must give every ratio exactly 1 and, with a 50 %
# threshold, every benchmark unchanged, drift controls included; exit 0.
HYPERF_BENCH_PROCESSES=1 bash scripts/bench.sh .benchmarks/ci.json -q --benchmark-max-time=0.5
printf 'default = 0.5\n' >.benchmarks/ci-thresholds.toml
hyperf bench compare .benchmarks/ci.json .benchmarks/ci.json --json \
  --thresholds .benchmarks/ci-thresholds.toml >.benchmarks/ci-gate.json
python - <<'PY'
import json

report = json.load(open(".benchmarks/ci-gate.json"))
verdicts = {b["verdict"] for b in report["benchmarks"]}
assert report["benchmarks"] and verdicts == {"unchanged"}, verdicts
assert all(b["ratio"] == 1 for b in report["benchmarks"])
assert any(b["is_control"] for b in report["benchmarks"]), "no drift controls ran"
print(f"gate on its own output: {len(report['benchmarks'])} benchmarks unchanged")
PY
