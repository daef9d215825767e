"""The small vocabularies every layer shares: backends, precisions, pipeline components."""

from __future__ import annotations

from enum import StrEnum


class Backend(StrEnum):
    TORCH = "torch"
    ORT_CPU = "ort-cpu"
    ORT_CUDA = "ort-cuda"
    ORT_TENSORRT = "ort-trt"
    TENSORRT = "trt"
    OPENVINO = "openvino"


class Precision(StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


class Component(StrEnum):
    TEXT_ENCODER = "text_encoder"
    UNET = "unet"
    VAE_DECODER = "vae_decoder"
    VAE_ENCODER = "vae_encoder"
    CLASSIFIER = "classifier"
    GENERATOR = "generator"  # a GAN generator: (z, condition) → image


class DeviceKind(StrEnum):
    CPU = "cpu"
    CUDA = "cuda"  # a discrete / laptop NVIDIA GPU
    JETSON = "jetson"  # an NVIDIA Jetson module (integrated GPU, shared memory)


class SchedulerName(StrEnum):
    DDIM = "ddim"
    EULER = "euler"
    DPMPP = "dpm++"
