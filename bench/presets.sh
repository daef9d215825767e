#!/usr/bin/env bash
# Latency and memory at real size with random weights (quality figures are meaningless here):
# BK-SDM-Tiny and SD 1.5 shapes on this CPU, a reduced set of legs and images so that a run fits
# in minutes rather than hours. Usage: bench/presets.sh [bk-sdm-tiny|sd15] [size] [batch sizes]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-bk-sdm-tiny}
size=${2:-256}
batches=${3:-1,4}
.venv/bin/edgegen bench --model "$preset" --size "$size" --steps 2 --quality-images 1 --warm-runs 2 --batch-sizes "$batches" \
  --legs "sd/torch/fp32,sd/ort-cpu/fp32,sd/openvino/fp32" --out "bench/results/${preset}-${size}-cpu-x86"
