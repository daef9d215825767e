#!/usr/bin/env bash
# Image quality of an embedded generator per runtime and precision, every figure beside the
# real-vs-real floor: the same seeds generated on torch FP32, ORT INT8 (UNet) and OpenVINO INT8
# (UNet, NNCF), then `edgegen quality` of each folder against held-out real CXRs (cxr-128 val+test),
# memorization against the generator's training images (cxr-128 train).
#   bench/model_quality.sh [MODEL=default] [N per condition=100]
# Writes bench/results/quality-<model>/<leg>/ (report.md, report.html, results.json, grids).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-default}
n=${2:-100}
name=$(.venv/bin/python -c "from edgegen.models.source import resolve_model; print(resolve_model('$model').name)")
family=$(.venv/bin/python -c "from edgegen.models.source import resolve_model; print(resolve_model('$model').family)")
out=bench/results/quality-$name
mkdir -p "$out"
# both families: the two pediatric classes and the adult findings, so they compare condition by condition
conds=(--class normal --class pneumonia --finding no_finding --finding atelectasis --finding lung_opacity
       --finding pleural_effusion --finding enlarged_cardiac_silhouette)
if [ "$family" = gan ]; then
  legs="torch:fp32 ort-cpu:fp32 ort-cpu:int8"
else
  legs="torch:fp32 ort-cpu:int8 openvino:int8"
fi
if [ "$family" = gan ]; then
  .venv/bin/edgegen export "$model" --profile cpu-x86 --precision fp32,int8 --openvino --classifier none >/dev/null
else  # FP32 everywhere, INT8 (ORT QDQ + NNCF IR) for the UNet only: the cpu-x86 profile's INT8 leg
  .venv/bin/edgegen export "$model" --profile cpu-x86 --precision fp32 --classifier none >/dev/null
  .venv/bin/edgegen export "$model" --profile cpu-x86 --precision int8 --components unet --openvino \
    --classifier none >/dev/null
fi
for leg in $legs; do
  backend=${leg%:*}; precision=${leg#*:}
  dir=runs/quality/$name/$backend-$precision
  if [ "$precision" = int8 ] && [ "$family" != gan ]; then prec=(); else prec=(--precision "$precision"); fi  # profile: UNet INT8, rest FP32
  mkdir -p "$(dirname "$dir")"
  .venv/bin/edgegen generate --model "$model" --out "$dir" --backend "$backend" "${prec[@]}" "${conds[@]}" \
    --n "$n" --seed 1000 --json > "$out/$backend-$precision.generate.json"
  .venv/bin/edgegen quality cxr-128 "$dir" --out "$out/$backend-$precision" --json > "$out/$backend-$precision.json"
  echo "$leg done"
done
