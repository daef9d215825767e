# edgegen: the two set-up commands of the README, plus helpers. Each target creates the local
# .venv and installs what it needs on first use (re-installs when pyproject.toml changes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgegen-installed

.PHONY: bench bench-real test lint gpu gpu-check openvino clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## The main job: benchmark the embedded default model and classifier on this machine (CPU is
## fine): every leg side by side, report in runs/bench-latest/.
bench: $(STAMP)
	$(BIN)/edgegen doctor
	$(BIN)/edgegen bench --out runs/bench-latest

## Real size in one command: the BK-SDM-Tiny UNet shape at 256 px (random weights: latency and
## memory, no quality) on torch / ORT FP32 / ORT INT8 / OpenVINO FP32 / OpenVINO INT8.
bench-real: $(STAMP)
	bench/presets.sh bk-sdm-tiny 256

## The test suite (GPU tests skip themselves on machines without an NVIDIA GPU).
test: $(STAMP)
	$(BIN)/python -m pytest

## Lint (ruff: pyflakes, pycodestyle at 120 columns, import order, bugbear) and format check.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## NVIDIA machines: swap the CPU onnxruntime for onnxruntime-gpu (never both in one env), add
## TensorRT and NVML.
gpu: $(STAMP)
	$(BIN)/python -m pip install -e '.[gpu]'
	$(BIN)/python -m pip uninstall --yes onnxruntime onnxruntime-gpu
	$(BIN)/python -m pip install --no-deps onnxruntime-gpu==1.31.1

## On an NVIDIA GPU box (after `make gpu`): every `gpu`-marked test (export → build → generate →
## compare with ORT CUDA, the TensorRT runner, engine selection) and a short bench of the GPU
## legs, written to bench/results/<gpu-name>/ for committing.
gpu-check: $(STAMP)
	$(BIN)/python bench/gpu_check.py

## Intel CPUs: OpenVINO + NNCF.
openvino: $(STAMP)
	$(BIN)/python -m pip install -e '.[openvino]'

clean-venv:
	rm -rf $(VENV)
