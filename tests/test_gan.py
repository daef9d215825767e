"""The GAN family: training resumes bit-exactly, export validates (and fails cleanly on a broken
graph), the same seed and condition give the same image on every backend, outputs are tagged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edgegen.data.load import load_dataset
from edgegen.gan.train import GanTrainConfig, train_gan


@pytest.fixture(scope="module")
def small_data():
    return load_dataset("kermany-128+nih-cxr14-128", "val", 32)


def _cfg(steps: int, **kw) -> GanTrainConfig:
    return GanTrainConfig(preset="gan-tiny", steps=steps, batch_size=4, checkpoint_every=2, r1_every=2, **kw)


@pytest.fixture(scope="module")
def tiny_gan(tmp_path_factory, small_data):
    out = tmp_path_factory.mktemp("gan") / "g"
    train_gan(small_data, _cfg(4), out)
    return out


def test_training_resumes_bit_exactly(tmp_path, small_data, monkeypatch):
    from safetensors.torch import load_file

    import edgegen.gan.train as gan_train

    straight = tmp_path / "straight"
    train_gan(small_data, _cfg(4), straight)
    resumed = tmp_path / "resumed"
    real_save = gan_train.save_checkpoint

    def save_then_die(path, step, fingerprint, state):
        real_save(path, step, fingerprint, state)
        raise KeyboardInterrupt  # the process is killed right after its first checkpoint

    monkeypatch.setattr(gan_train, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_gan(small_data, _cfg(4), resumed)
    monkeypatch.setattr(gan_train, "save_checkpoint", real_save)
    assert not resumed.exists() and resumed.with_name("resumed.checkpoint").is_dir()
    result = train_gan(small_data, _cfg(4), resumed)
    assert result.resumed_from == 2
    a, b = load_file(str(straight / "generator.safetensors")), load_file(str(resumed / "generator.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not resumed.with_name("resumed.checkpoint").exists()


def test_saved_folder_is_safetensors_with_a_card(tiny_gan):
    card = json.loads((tiny_gan / "edgegen_gan.json").read_text())
    assert card["family"] == "gan" and card["conditioning"]["populations"] == ["adult", "pediatric"]
    assert card["data"]["sha256"] and card["training"]["steps"] == 4
    assert not list(tiny_gan.glob("*.pt")) and (tiny_gan / "generator.safetensors").is_file()


def test_export_validates_and_a_corrupted_graph_fails_cleanly(tmp_path, tiny_gan):
    import onnx

    from edgegen.errors import ValidationError
    from edgegen.export.components import EXPORTS
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.export.validate import raise_on_failures, run_checks
    from edgegen.gan.folder import load_gan
    from edgegen.types import Component, Precision

    result = export_model(
        ExportRequest(
            model=str(tiny_gan), profile="cpu-x86", out_root=tmp_path, precisions=(Precision.FP32,), classifier=None
        )
    )
    art = result.manifest.find(Component.GENERATOR, Precision.FP32)
    assert result.manifest.model_kind == "gan" and {c.batch for c in art.checks} == {1, 4}
    assert all(c.passed and c.rel_l2 < 1e-4 for c in art.checks)
    # Corrupt the graph: scale the output by 1.5 → validation must report it, not crash.
    model = onnx.load(str(result.folder / art.file))
    out = model.graph.output[0].name
    scale = onnx.helper.make_tensor("scale_bug", onnx.TensorProto.FLOAT, [], [1.5])
    model.graph.initializer.append(scale)
    for node in model.graph.node:
        node.output[:] = [o + "_pre" if o == out else o for o in node.output]
    model.graph.node.append(onnx.helper.make_node("Mul", [out + "_pre", "scale_bug"], [out]))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    spec = EXPORTS[Component.GENERATOR](load_gan(tiny_gan)[0])
    checks = run_checks(spec, bad, Precision.FP32, [(1, 32), (4, 32)])
    assert not any(c.passed for c in checks)
    with pytest.raises(ValidationError, match="generator fp32 ONNX disagrees with torch: images at batch 1"):
        raise_on_failures("generator", Precision.FP32, checks)


def test_same_seed_and_condition_same_image_on_every_backend(tmp_path, tiny_gan):
    from edgegen.conditions import resolve_conditions
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.runtime.generate import GenerateSettings, generate_images, plan
    from edgegen.runtime.loader import RunConfig, open_pipeline
    from edgegen.runtime.provenance import read_png_tags
    from edgegen.types import Backend, Component, Precision, SchedulerName

    export = export_model(
        ExportRequest(
            model=str(tiny_gan),
            profile="cpu-x86",
            out_root=tmp_path / "x",
            precisions=(Precision.FP32,),
            classifier=None,
        )
    )
    outputs = {}
    for backend in (Backend.TORCH, Backend.ORT_CPU, Backend.OPENVINO):
        pipe, facts = open_pipeline(
            RunConfig(backend, {c: Precision.FP32 for c in Component}),
            SchedulerName.DPMPP,
            model=str(tiny_gan),
            artifacts=export.folder,
        )
        conds = resolve_conditions(pipe.info.vocabulary(), ["normal"], ["effusion"], None)
        items = plan(conds, 3, pipe.info.vocabulary().template, seed=5)
        out = tmp_path / backend.value
        generate_images(
            pipe, {**facts, "backend": backend.value}, items, GenerateSettings(1, 0.0, "none", 32, batch_size=2), out
        )
        pipe.release()
        outputs[backend] = out
    from PIL import Image

    files = sorted(p.relative_to(outputs[Backend.TORCH]) for p in outputs[Backend.TORCH].rglob("*.png"))
    assert len(files) == 6
    for f in files:
        ref = np.asarray(Image.open(outputs[Backend.TORCH] / f), dtype=np.int16)
        for backend in (Backend.ORT_CPU, Backend.OPENVINO):
            assert np.abs(np.asarray(Image.open(outputs[backend] / f), dtype=np.int16) - ref).max() <= 1
    tags = read_png_tags(outputs[Backend.ORT_CPU] / files[-1])
    assert (
        tags["synthetic"] == "true"
        and tags["family"] == "gan"
        and json.loads(tags["findings"]) in (["no_finding"], ["pleural_effusion"])
    )
    lines = [json.loads(x) for x in (outputs[Backend.ORT_CPU] / "manifest.jsonl").read_text().splitlines()]
    assert {r["class"] for r in lines} == {"normal", "pleural_effusion"} and {r["population"] for r in lines} == {
        "pediatric",
        "adult",
    }


def test_a_class_folder_conditions_the_gan_on_its_classes(tmp_path):
    """A plain folder of normal/ and pneumonia/ (no findings columns) still trains a conditional
    GAN: the class names map to findings; an unknown class is a one-line error."""
    from PIL import Image

    from edgegen.errors import DataError
    from edgegen.gan.train import _conditions

    for name, value in (("normal", 60), ("pneumonia", 190)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((32, 32), value + i, np.uint8)).save(tmp_path / "data" / name / f"{i}.png")
    data = load_dataset(str(tmp_path / "data"), "train", 32)
    out = tmp_path / "g"
    train_gan(data, _cfg(2), out)
    card = json.loads((out / "edgegen_gan.json").read_text())
    assert card["conditioning"]["classes"] == {
        "normal": {"population": "", "findings": ["no_finding"]},
        "pneumonia": {"population": "", "findings": ["pneumonia"]},
    }
    from edgegen.conditions import with_class_findings
    from edgegen.gan.config import GAN_PRESETS

    c = _conditions(with_class_findings(data), GAN_PRESETS["gan-tiny"])
    assert c.sum(axis=1).tolist() == [1.0] * 8 and (c[:4] != c[4:]).any()  # one slot each, per class
    (tmp_path / "data" / "tuberculosis").mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "data" / "tuberculosis" / "0.png")
    with pytest.raises(DataError, match="class 'tuberculosis' is not a finding"):
        train_gan(load_dataset(str(tmp_path / "data"), "train", 32), _cfg(2), tmp_path / "g2")
    assert not (tmp_path / "g2").exists()


def test_reduced_precisions_and_the_command_line_on_a_gan_folder(tmp_path, run_cli):
    """FP16 and INT8 (calibrated on z draws) validate; `generate --model GAN` on the INT8 export
    writes tagged PNGs and a manifest; `classify` reads the GAN's folder like any other. The
    embedded GAN's folder (0.8 M parameters, a 10 s export): the INT8 bound was set on this trained
    model; a GAN trained for 4 steps drifts past it, as a near-random network may."""
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.models.embedded import DEFAULT_GAN, MODELS_DIR
    from edgegen.runtime.provenance import read_png_tags
    from edgegen.types import Component, Precision

    export = export_model(
        ExportRequest(
            model=str(MODELS_DIR / DEFAULT_GAN),
            profile="cpu-x86",
            out_root=tmp_path / "x",
            precisions=(Precision.FP16, Precision.INT8),
            classifier=None,
        )
    )
    for p in (Precision.FP16, Precision.INT8):
        art = export.manifest.find(Component.GENERATOR, p)
        assert art is not None and all(c.passed and c.finite for c in art.checks), p
    assert export.manifest.find(Component.GENERATOR, Precision.INT8).int8["calibration_samples"] >= 32
    out = tmp_path / "synth"
    code, _, err = run_cli(
        "generate", "--model", str(MODELS_DIR / DEFAULT_GAN), "--artifacts", str(export.folder), "--backend", "ort-cpu",
        "--precision", "int8", "--out", str(out), "--class", "normal", "--finding", "effusion", "--n", "2",
    )  # fmt: skip
    assert code == 0, err
    pngs = sorted(out.rglob("*.png"))
    assert len(pngs) == 4 and len((out / "manifest.jsonl").read_text().splitlines()) == 4
    tags = read_png_tags(pngs[0])
    assert (
        tags["synthetic"] == "true"
        and tags["family"] == "gan"
        and json.loads(tags["precisions"]) == {"generator": "int8"}
    )
    # the default classifier knows normal / pneumonia: the GAN's normal images, read as a flat folder
    code, text, err = run_cli("classify", str(out / "normal"), "--backend", "torch", "--bootstrap", "20", "--json")
    assert code == 0, err
    assert json.loads(text)["n"] == 2
