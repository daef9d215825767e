"""Files shipped inside the package: SD configs, the CLIP tokenizer, default data and models."""

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
SD_CONFIGS_DIR = ASSETS_DIR / "sd-configs"
CLIP_TOKENIZER_DIR = ASSETS_DIR / "clip-tokenizer"
