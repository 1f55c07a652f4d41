#!/usr/bin/env bash
# One step of ../shared/GPU.md on a lent GPU machine, run from the repository root there:
#   bash scripts/gpu_session.sh smoke   # env, list, calibrate, gpu_smoke sweep + report,
#                                       # the Triton kernel benchmark, the test suite
#   bash scripts/gpu_session.sh sweep SPEC   # a long sweep and its report
# Packages the image lacks travel as wheels in .whl/ (see the device tool's README).
# Everything lands in $OUT (at most 8 files come back, so folders are tarred).
set -uo pipefail
stage="${1:?smoke or sweep}"
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export HYPERF_CACHE_DIR="$OUT/cache"
hyperf() { python3 -m hyperf.cli "$@"; }
step() { echo "=== $* ($(date +%T))"; }
case "$stage" in
smoke)
  {
    step env; hyperf env
    step list; hyperf list --device cuda --dtype float16
    step calibrate; hyperf calibrate --device cuda
    step sweep; timeout "${SWEEP_S:-200}" python3 -m hyperf.cli sweep sweeps/gpu_smoke.yaml --device cuda \
      --db "$OUT/gpu.db" --profile-filter 'seq_len=4096,mode=fwd_bwd' --quiet
    step report; hyperf report --db "$OUT/gpu.db" -o "$OUT/report/smoke.html"
    [ -n "${SKIP_MONARCH:-}" ] || { step triton_monarch; timeout 90 python3 benchmarks/triton_monarch.py; }
  } > "$OUT/smoke.log" 2>&1
  step pytest > "$OUT/pytest.log"
  # shellcheck disable=SC2086 # PYTEST_PATHS holds several paths
  timeout "${PYTEST_S:-240}" python3 -m pytest -q -p no:cacheprovider --timeout 120 \
    -o addopts="-ra --benchmark-disable" ${PYTEST_PATHS:-tests} >> "$OUT/pytest.log" 2>&1
  ;;
sweep)
  spec="${2:?a spec file}"
  if [ -n "${PYTEST_PATHS:-}" ]; then
    # shellcheck disable=SC2086 # PYTEST_PATHS holds several paths
    timeout "${PYTEST_S:-120}" python3 -m pytest -q -x -p no:cacheprovider --tb=short \
      -o addopts="-ra --benchmark-disable" $PYTEST_PATHS > "$OUT/pytest.log" 2>&1
  fi
  {
    step env; hyperf env
    step sweep; timeout "${SWEEP_S:-420}" python3 -m hyperf.cli sweep "$spec" --device cuda \
      --db "$OUT/gpu.db" --quiet
    step resume-status; hyperf runs --db "$OUT/gpu.db"
    step report; hyperf report --db "$OUT/gpu.db" -o "$OUT/report/report.html"
  } > "$OUT/sweep.log" 2>&1
  ;;
esac
# Folders deeper than two levels do not come back: pack profiles and report files.
for d in "$OUT"/*-profiles "$OUT/report" "$OUT/cache"; do
  [ -d "$d" ] && tar -C "$OUT" -czf "$d.tgz" "$(basename "$d")" && rm -rf "$d"
done
ls -la "$OUT"
for f in "$OUT"/*.log; do tail -n 5 "$f"; done
