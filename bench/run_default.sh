#!/usr/bin/env bash
# The reference run of the main job on this machine kind: `edgegen bench` with no arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/edgegen bench --out bench/results/default-cpu-x86 "$@"
