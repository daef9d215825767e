"""edgegen: synthetic chest X-ray generation on the edge.

Export a (fine-tuned) Stable Diffusion and CXR classifiers to ONNX / TensorRT, run them on a
Jetson, an NVIDIA GPU or a CPU behind one API, and compare speed, memory, energy, quality and
cost against cloud image APIs.
"""

import os

# edgegen never downloads models or data: fail fast instead of retrying a hub for ~30 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
