"""Presets build real SD pipelines; local folders are checked, refused or loaded correctly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from edgegen.errors import ModelError
from edgegen.models.local import check_folder, load_local_pipeline
from edgegen.models.presets import PRESETS, build_preset_pipeline, get_preset, parameter_counts
from edgegen.models.source import resolve_model

# Exact UNet sizes of the real releases whose configs the presets carry.
EXPECTED_UNET_PARAMS = {"sd15": 859_520_964, "sd21-base": 865_910_724, "bk-sdm-tiny": 323_384_964}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_has_real_component_shapes(name):
    counts = parameter_counts(get_preset(name))
    assert set(counts) == {"unet", "vae", "text_encoder"}
    if name in EXPECTED_UNET_PARAMS:
        assert counts["unet"] == EXPECTED_UNET_PARAMS[name]
        assert counts["vae"] == 83_653_863
    elif name == "tiny-cxr":
        assert counts == {"unet": 4_147_844, "vae": 978_103, "text_encoder": 1_600_672}  # the embedded model's
    elif name == "cxr-128":
        assert counts == {"unet": 10_489_316, "vae": 681_911, "text_encoder": 1_600_672}  # the embedded v2 model's
    else:
        assert sum(counts.values()) < 5_000_000  # tiny: seconds on CPU


def test_tiny_pipeline_generates_deterministically(tiny_pipeline):
    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return tiny_pipeline(
            "a chest x-ray", num_inference_steps=2, height=64, width=64, output_type="np", generator=g
        ).images

    a, b, c = run(1), run(1), run(2)
    assert a.shape == (1, 64, 64, 3) and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_preset_tokenizers_are_the_real_clip_bpe():
    tiny = build_preset_pipeline("tiny")
    assert tiny.tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    from edgegen.models.tokenizer import build_clip_tokenizer

    sd21 = build_clip_tokenizer(get_preset("sd21-base").config_dir / "tokenizer")
    ids = sd21("a cat", padding="max_length", max_length=77).input_ids
    assert ids[:4] == [49406, 320, 2368, 49407] and ids[-1] == 0  # SD 2.x pads with "!" (id 0)
    assert tiny.tokenizer("a cat", padding="max_length", max_length=77).input_ids[-1] == 49407


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory, tiny_pipeline):
    path = tmp_path_factory.mktemp("models") / "tiny-sd"
    tiny_pipeline.save_pretrained(path, safe_serialization=True)
    return path


def test_local_folder_round_trip(saved_tiny, tiny_pipeline):
    check = check_folder(saved_tiny)
    assert check.pickle_only == () and all(f.endswith(".safetensors") for fs in check.weights.values() for f in fs)
    loaded = load_local_pipeline(saved_tiny)
    for name in ("unet", "vae", "text_encoder"):
        a, b = getattr(tiny_pipeline, name).state_dict(), getattr(loaded, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    source = resolve_model(str(saved_tiny))
    assert source.kind == "folder" and len(source.fingerprint()) == 64


def _copy(saved, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(saved, dst)
    return dst


def test_missing_unet_and_weights_are_all_named(saved_tiny, tmp_path):
    broken = _copy(saved_tiny, tmp_path)
    shutil.rmtree(broken / "unet")
    (broken / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(ModelError) as err:
        check_folder(broken)
    assert "unet/ is missing" in str(err.value) and "vae/ has no weights" in str(err.value)


def test_pickle_weights_are_refused_unless_trusted(saved_tiny, tmp_path):
    folder = _copy(saved_tiny, tmp_path)
    from safetensors.torch import load_file

    unet_file = folder / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(unet_file), folder / "unet" / "diffusion_pytorch_model.bin")
    unet_file.unlink()
    with pytest.raises(ModelError, match="only has pickle weights.*--trust-pickle"):
        load_local_pipeline(folder)
    pipe = load_local_pipeline(folder, trust_pickle=True)
    assert pipe.unet.config.cross_attention_dim == 32


def test_bad_inputs_give_clear_errors(tmp_path, saved_tiny):
    with pytest.raises(ModelError, match="does not exist"):
        check_folder(tmp_path / "nope")
    with pytest.raises(ModelError, match="no model_index.json"):
        check_folder(tmp_path)
    with pytest.raises(ModelError, match="neither a preset nor an existing folder"):
        resolve_model("sd99")
    corrupt = _copy(saved_tiny, tmp_path)
    (corrupt / "model_index.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        check_folder(corrupt)
    truncated = _copy(saved_tiny, tmp_path / "t")
    weights = truncated / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match="cannot load the pipeline"):
        load_local_pipeline(truncated)


def test_cli_models(run_cli, saved_tiny, tmp_path):
    code, out, _ = run_cli("models", "list", "--json")
    assert code == 0 and {m["name"] for m in json.loads(out)} == set(PRESETS)
    code, out, _ = run_cli("models", "show", "sd15", "--json")
    assert code == 0 and json.loads(out)["parameters"]["unet"] == 859_520_964
    code, out, _ = run_cli("models", "check", str(saved_tiny), "--load", "--json")
    assert code == 0 and json.loads(out)["loaded"] is True
    broken = _copy(saved_tiny, tmp_path)
    shutil.rmtree(broken / "unet")
    code, out, err = run_cli("models", "check", str(broken))
    assert code == ModelError.exit_code and out == ""
    assert err.count("\n") == 1 and "unet/ is missing" in err


def test_embedded_defaults_load_in_plain_diffusers_and_stay_small():
    from diffusers import StableDiffusionPipeline

    from edgegen.classifiers.card import load_classifier
    from edgegen.models.embedded import DEFAULT_MODEL, EMBEDDED_MODELS, resolve_classifier_dir

    folder = EMBEDDED_MODELS[DEFAULT_MODEL]
    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True, torch_dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    image = pipe(
        "a chest X-ray, frontal view, pediatric, pneumonia",
        num_inference_steps=4,
        height=128,
        width=128,
        output_type="np",
        generator=g,
    ).images
    assert image.shape == (1, 128, 128, 3) and np.isfinite(image).all() and image.std() > 0.02
    source = resolve_model("default")
    assert source.kind == "embedded" and source.name == DEFAULT_MODEL and source.native_resolution == 128
    # the bounds: the diffusion model's fp16 safetensors ≤ 40 MB, the GAN ≤ 20 MB
    assert sum(p.stat().st_size for p in folder.rglob("*.safetensors")) <= 40e6
    gan = resolve_model("gan")
    assert gan.family == "gan" and sum(p.stat().st_size for p in gan.path.rglob("*.safetensors")) <= 20e6
    for name in ("edgegen-cxr-128", "edgegen-gan-cxr-128"):
        card = (EMBEDDED_MODELS[name] / "MODEL_CARD.md").read_text()
        assert "edgegen " in card and "not for clinical use" in card.lower()
    model, card = load_classifier(resolve_classifier_dir("default"))
    assert card.class_names == ("normal", "pneumonia") and card.metrics["test"]["accuracy"]["value"] > 0.85
    assert card.reproduce.startswith("edgegen train-classifier") and card.calibration
    model, findings = load_classifier(resolve_classifier_dir("cxr-findings"))
    assert findings.multilabel and set(findings.class_names) == {
        "atelectasis", "lung_opacity", "pleural_effusion", "enlarged_cardiac_silhouette"
    }  # fmt: skip
    assert findings.data["train"]["source"] == "nih-cxr14-128:train" and findings.calibration
