#!/usr/bin/env bash
# Every GPU figure in one call (a lent device gives 15 minutes, all calls together):
#   bash benchmarks/gpu_suite.sh          # on one H100/H200: writes benchmarks/results/{tracklets,train,infer}.json
#   bash benchmarks/gpu_suite.sh --cpu    # the same code at the smallest settings, into $OUT (CI runs this)
# Stage 1: classical, SAM2 base_plus at 1024 px and SAM3 frames/s per view and peak memory; stage 3: a
# ViewSAM base_plus training step in fp32, bf16-mixed and bf16 + torch.compile; stage 4: ViewSAM
# inference in view-frames/s; then the CUDA-only tests. Each step has its own time limit so that the
# whole suite ends within 8 minutes on the device; every JSON names the machine and its GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
if [[ "${1:-}" == "--cpu" ]]; then
    export CUDA_VISIBLE_DEVICES=""
    OUT=${OUT:-runs/gpu_suite_cpu}
    MODE=(--tiny)
    LIMIT=(120 90 90)
else
    OUT=${OUT:-benchmarks/results}
    MODE=()
    LIMIT=(200 150 60)
fi
mkdir -p "$OUT"
started=$SECONDS
step() { echo "== $1 ($(( SECONDS - started )) s)"; }

step "stage 1: tracklets"
timeout "${LIMIT[0]}" "$PYTHON" benchmarks/bench_tracklets.py "${MODE[@]}" --out "$OUT/tracklets.json"
step "stage 3: training step"
timeout "${LIMIT[1]}" "$PYTHON" benchmarks/bench_train.py "${MODE[@]}" --out "$OUT/train.json"
step "stage 4: inference"
timeout "${LIMIT[2]}" "$PYTHON" benchmarks/bench_infer.py "${MODE[@]}" --out "$OUT/infer.json"
step "CUDA-only tests"
"$PYTHON" -m pytest -q -m cuda -p no:cacheprovider tests || [[ $? -eq 5 ]]  # 5: none collected
step "done: $OUT"
