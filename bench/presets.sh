#!/usr/bin/env bash
# Latency and memory at real size with random weights (quality figures would be meaningless, so the
# quality module is off): the BK-SDM-Tiny or SD 1.5 UNet shape on this CPU, diffusion legs only, few
# steps and rounds so that a run fits in minutes. `make bench-real` runs the BK-SDM-Tiny default.
# Usage: bench/presets.sh [bk-sdm-tiny|sd15] [size] [legs] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-bk-sdm-tiny}
size=${2:-256}
legs=${3:-sd/torch/fp32,sd/ort-cpu/fp32,sd/ort-cpu/int8,sd/openvino/fp32,sd/openvino/int8}
rounds=${4:-4}
.venv/bin/edgegen bench --model "$preset" --size "$size" --steps 2 --no-quality --gan-model none \
  --rounds "$rounds" --calls-per-round 1 --batch-sizes 1 --legs "$legs" \
  --out "bench/results/${preset}-${size}-cpu-x86"
