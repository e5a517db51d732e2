#!/usr/bin/env bash
# Every GPU figure in one call (a lent device gives 15 minutes, all calls together):
#   bash benchmarks/gpu_suite.sh          # on one H100/H200: writes benchmarks/results/{train_make,train,infer,tracklets}.json
#   bash benchmarks/gpu_suite.sh --cpu    # the same code at the smallest settings, into $OUT (CI runs this)
# First the worlds (benchmarks/worlds.py) and the CUDA-only tests beside them; then stage 3 as users run
# it (make train, base_plus in bf16-mixed, 200 steps on the bench world's pseudo labels); a ViewSAM
# base_plus training step in fp32, bf16-mixed and bf16 + torch.compile; stage-4 inference in
# view-frames/s; stage 1's classical, SAM2 base_plus (1024 px) and SAM3 frames/s per view. Each step has
# its own time limit, a step that fails does not stop the others, and the suite fails at the end if any
# did; the whole suite ends within 10 minutes on the device. Every JSON names the machine and its GPU.
# PYTHON and CRMOT_BIN (the folder holding `crmot`) default to the repo's .venv. Stage 2 on the bench
# world takes minutes of CPU: make its pseudo labels beforehand (10 minutes on 2 cores) and bring them,
#   make pseudolabels DATA=data/bench RUN=train_make ARGS="--data.splits [train]" ARGS2="--data.splits [train]"
# else bench_make_train.py makes them inside the suite's time.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export CRMOT_BIN=${CRMOT_BIN:-.venv/bin}
if [[ "${1:-}" == "--cpu" ]]; then
    export CUDA_VISIBLE_DEVICES=""
    OUT=${OUT:-runs/gpu_suite_cpu}
    MODE=(--tiny)
    WORLDS=(tiny)
    LIMIT=(120 240 120 90 120)
else
    OUT=${OUT:-benchmarks/results}
    MODE=()
    WORLDS=(bench demo long)
    LIMIT=(90 180 120 50 130)
fi
mkdir -p "$OUT"
started=$SECONDS
failed=()
step() {  # step NAME LIMIT_S COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "== $name ($(( SECONDS - started )) s, limit $limit s)"
    timeout --kill-after=10 "$limit" "$@" || { echo "!! $name failed (exit $?)"; failed+=("$name"); }
}

"$PYTHON" -m pytest -q -m cuda -p no:cacheprovider tests > "$OUT/cuda_tests.log" 2>&1 &
tests=$!
step "worlds" "${LIMIT[0]}" "$PYTHON" benchmarks/worlds.py "${WORLDS[@]}"
echo "== CUDA-only tests ($(( SECONDS - started )) s)"
wait $tests; code=$?
cat "$OUT/cuda_tests.log"
[[ $code -eq 0 || $code -eq 5 ]] || failed+=("CUDA-only tests")  # 5: none collected (no GPU)
step "stage 3: make train" "${LIMIT[1]}" "$PYTHON" benchmarks/bench_make_train.py "${MODE[@]}" --limit "${LIMIT[1]}" --out "$OUT/train_make.json"
step "stage 3: training step" "${LIMIT[2]}" "$PYTHON" benchmarks/bench_train.py "${MODE[@]}" --out "$OUT/train.json"
step "stage 4: inference" "${LIMIT[3]}" "$PYTHON" benchmarks/bench_infer.py "${MODE[@]}" --out "$OUT/infer.json"
step "stage 1: tracklets" "${LIMIT[4]}" "$PYTHON" benchmarks/bench_tracklets.py "${MODE[@]}" --out "$OUT/tracklets.json"
echo "== done in $(( SECONDS - started )) s: $OUT"
[[ ${#failed[@]} -eq 0 ]] || { echo "failed: ${failed[*]}"; exit 1; }
