"""The real SD CLIP tokenizer, built from the vendored BPE files and a preset's tokenizer config."""

from __future__ import annotations

import json
from pathlib import Path

from edgegen.assets import CLIP_TOKENIZER_DIR

# Keys of tokenizer_config.json that CLIPTokenizer's constructor takes directly.
_PASSED = ("bos_token", "eos_token", "pad_token", "unk_token", "model_max_length", "errors")


def build_clip_tokenizer(tokenizer_dir: Path):
    """CLIPTokenizer from the shared vocab/merges plus this folder's special-token settings.

    SD 1.x pads with <|endoftext|>; SD 2.x pads with "!" (id 0): the folder's config decides.
    """
    from transformers import CLIPTokenizer

    config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text())
    kwargs = {k: config[k] for k in _PASSED if k in config}
    return CLIPTokenizer(
        vocab_file=str(CLIP_TOKENIZER_DIR / "vocab.json"),
        merges_file=str(CLIP_TOKENIZER_DIR / "merges.txt"),
        **kwargs,
    )
