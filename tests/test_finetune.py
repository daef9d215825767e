"""SD fine-tuning on the tiny preset: full, LoRA, EMA, exact resume, from scratch, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edgegen.data.default import load_default
from edgegen.errors import ModelError, UsageError
from edgegen.models.presets import build_preset_pipeline
from edgegen.models.source import resolve_model
from edgegen.train.checkpoint import checkpoint_dir
from edgegen.train.finetune import TRAINING_CARD, FinetuneConfig, finetune_pipeline
from edgegen.train.scratch import VaeTrainConfig, train_from_scratch


@pytest.fixture(scope="module")
def data():
    val = load_default("val", 64)
    return val.subset(
        np.r_[np.flatnonzero(val.labels == 0)[:6], np.flatnonzero(val.labels == 1)[:6]]
    )  # a few of each class


def _cfg(**kw):
    return FinetuneConfig(**{"max_steps": 4, "batch_size": 2, "lr": 1e-3, "lr_warmup": 1, "checkpoint_every": 2, **kw})


def _unet_state(folder):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(folder / "unet").state_dict()


def test_full_finetune_saves_a_loadable_pipeline(tmp_path, data):
    from diffusers import StableDiffusionPipeline

    pipe = build_preset_pipeline("tiny")
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    result = finetune_pipeline(pipe, data, _cfg(), tmp_path / "out", "hash")
    assert result.steps == 4 and result.mode == "full" and np.isfinite(result.final_loss)
    loaded = StableDiffusionPipeline.from_pretrained(tmp_path / "out", local_files_only=True)
    changed = [k for k, v in loaded.unet.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "training did not change the UNet"
    card = json.loads((tmp_path / "out" / TRAINING_CARD).read_text())
    assert card["prompts"] == ["a chest X-ray, frontal view, normal", "a chest X-ray, frontal view, pneumonia"]
    assert card["steps"] == 4 and not checkpoint_dir(tmp_path / "out").exists()


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, data):
    straight = finetune_pipeline(build_preset_pipeline("tiny"), data, _cfg(), tmp_path / "a", "hash")

    def crash_at_3(step, total, loss):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune_pipeline(build_preset_pipeline("tiny"), data, _cfg(), tmp_path / "b", "hash", progress=crash_at_3)
    assert not (tmp_path / "b").exists() and checkpoint_dir(tmp_path / "b").is_dir()
    resumed = finetune_pipeline(build_preset_pipeline("tiny"), data, _cfg(), tmp_path / "b", "hash")
    assert resumed.resumed_from == 2 and resumed.steps == straight.steps == 4
    a, b = _unet_state(tmp_path / "a"), _unet_state(tmp_path / "b")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_with_other_settings_is_refused(tmp_path, data):
    with pytest.raises(KeyboardInterrupt):
        finetune_pipeline(
            build_preset_pipeline("tiny"),
            data,
            _cfg(),
            tmp_path / "o",
            "hash",
            progress=lambda s, n, loss: (_ for _ in ()).throw(KeyboardInterrupt) if s == 3 else None,
        )
    with pytest.raises(ModelError, match="different settings"):
        finetune_pipeline(build_preset_pipeline("tiny"), data, _cfg(lr=5e-4), tmp_path / "o", "hash")
    result = finetune_pipeline(build_preset_pipeline("tiny"), data, _cfg(lr=5e-4), tmp_path / "o", "hash", resume=False)
    assert result.resumed_from == 0


def test_lora_with_ema_fuses_into_a_plain_unet(tmp_path, data):
    result = finetune_pipeline(
        build_preset_pipeline("tiny"), data, _cfg(lora_rank=4, ema_decay=0.9), tmp_path / "lora", "hash"
    )
    assert result.mode == "lora" and 0 < result.trainable_params < 100_000
    state = _unet_state(tmp_path / "lora")
    assert not any("lora" in k for k in state)
    assert set(state) == set(build_preset_pipeline("tiny").unet.state_dict())


def test_from_scratch_trains_the_vae_and_sets_the_latent_scale(tmp_path, data):
    pipe = build_preset_pipeline("tiny")
    vae_result, result = train_from_scratch(
        pipe, data, VaeTrainConfig(steps=3, batch_size=4), _cfg(max_steps=2), tmp_path / "s", "hash", save_fp16=True
    )
    vae_cfg = json.loads((tmp_path / "s" / "vae" / "config.json").read_text())
    assert vae_cfg["scaling_factor"] == pytest.approx(vae_result.scaling_factor) and vae_result.scaling_factor > 0
    card = json.loads((tmp_path / "s" / TRAINING_CARD).read_text())
    assert card["vae_training"]["steps"] == 3 and card["stored_dtype"] == "float16"
    pipe = resolve_model(str(tmp_path / "s")).load_pipeline()
    assert pipe.unet.dtype == torch.float32  # fp16 storage is upcast on load


def test_config_and_cli_reject_bad_settings(run_cli, tmp_path):
    with pytest.raises(UsageError, match="cannot be combined"):
        FinetuneConfig(lora_rank=4, train_text_encoder=True)
    with pytest.raises(UsageError, match="neither \\{class\\} nor \\{findings\\}"):
        finetune_pipeline(
            build_preset_pipeline("tiny"),
            load_default("val", 64),
            _cfg(prompt_template="a chest x-ray"),
            tmp_path / "x",
            "h",
        )
    code, _, err = run_cli("finetune", "/no/such/model", "--out", str(tmp_path / "y"))
    assert code == ModelError.exit_code and err.startswith("edgegen: error:")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
