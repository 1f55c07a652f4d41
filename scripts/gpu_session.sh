#!/usr/bin/env bash
# The GPU run of ../shared/GPU.md on a lent GPU machine, from the repository root there, in at
# most two commands of at most 5 minutes each:
#   bash scripts/gpu_session.sh main    # env, calibrate, the main job's GPU default
#                                       # (sweeps/gpu_default.yaml: eager and CUDA graphs) and
#                                       # its report
#   bash scripts/gpu_session.sh extra   # the Triton long-convolution benchmark (issue 28),
#                                       # the CUDA tests, the eager/graph/kernel benchmark
#   bash scripts/gpu_session.sh sweep SPEC   # any other spec and its report
# Packages the image lacks travel as wheels in .whl/ (see the device tool's README).
# Everything lands in $OUT (at most 8 files come back, so folders are tarred).
set -uo pipefail
stage="${1:?main, extra or sweep}"
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
sweep() {  # SPEC NAME: the sweep (and its search: block) into $OUT/NAME.db and its report, under SWEEP_S s
  step sweep "$1"; timeout "${SWEEP_S:-250}" python3 -m hyperf.cli sweep "$1" --device cuda \
    --db "$OUT/$2.db" --quiet
  step runs; hyperf runs --db "$OUT/$2.db"
  step report; hyperf report --db "$OUT/$2.db" -o "$OUT/report/$2.html"
}
case "$stage" in
main)
  {
    step env; hyperf env
    step calibrate; hyperf calibrate --device cuda
    sweep sweeps/gpu_default.yaml gpu_default
  } > "$OUT/main.log" 2>&1
  ;;
extra)
  {  # issue 28's measurement first: the Triton kernel, torch.fft and the prediction
    step triton_monarch; timeout 120 python3 benchmarks/triton_monarch.py --budget-s 0.5 \
      --csv "$OUT/triton_monarch.csv"
  } > "$OUT/extra.log" 2>&1
  step pytest > "$OUT/pytest.log"
  # shellcheck disable=SC2086 # PYTEST_PATHS holds several paths
  timeout "${PYTEST_S:-100}" python3 -m pytest -q -p no:cacheprovider --timeout 60 \
    -o addopts="-ra --benchmark-disable" ${PYTEST_PATHS:-tests/ops tests/measure} \
    >> "$OUT/pytest.log" 2>&1
  {
    step exec_floor; timeout 60 python3 benchmarks/exec_floor.py --out "$OUT" --time-limit 50
  } >> "$OUT/extra.log" 2>&1
  ;;
sweep)
  sweep "${2:?a spec file}" "$(basename "$2" .yaml)" > "$OUT/sweep.log" 2>&1
  ;;
esac
# Folders deeper than two levels do not come back: pack profiles and report files.
for d in "$OUT"/*-profiles "$OUT/report" "$OUT/cache"; do
  [ -d "$d" ] && tar -C "$OUT" -czf "$d.tgz" "$(basename "$d")" && rm -rf "$d"
done
ls -la "$OUT"
for f in "$OUT"/*.log; do tail -n 5 "$f"; done
