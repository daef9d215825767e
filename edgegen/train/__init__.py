"""Stable Diffusion training on CXR data: UNet fine-tuning (full or LoRA) and a tiny SD from scratch."""
