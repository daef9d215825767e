"""Classifier registry, metrics, training, saving/loading and the CLI, on tiny real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from edgegen.classifiers.card import load_classifier
from edgegen.classifiers.metrics import classification_report
from edgegen.classifiers.predict import extract_features, predict_probs
from edgegen.classifiers.registry import ARCHITECTURES, build_classifier
from edgegen.classifiers.train import TrainConfig, train_classifier
from edgegen.data.folder import load_image_folder
from edgegen.errors import ArtifactError, DataError, ModelError


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_architecture_takes_grayscale_and_n_classes(name):
    model = build_classifier(name, 3).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 64))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_metrics_match_hand_computed_values():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    predicted = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, 0])
    probs = np.eye(2)[predicted] * 0.8 + 0.1
    r = classification_report(probs, labels, ("normal", "pneumonia"), bootstrap=200, seed=0)
    assert r.accuracy.value == pytest.approx(0.7)
    # normal: TP 3, FP 2, FN 1 → P 0.6, R 0.75; pneumonia: TP 4, FP 1, FN 2 → P 0.8, R 0.667
    assert r.per_class["normal"].precision == pytest.approx(0.6) and r.per_class["normal"].recall == pytest.approx(0.75)
    assert r.per_class["pneumonia"].recall == pytest.approx(4 / 6, abs=1e-6)
    assert r.precision_macro.value == pytest.approx(0.7)
    assert r.f1_macro.value == pytest.approx((2 * 0.6 * 0.75 / 1.35 + 2 * 0.8 * (4 / 6) / (0.8 + 4 / 6)) / 2, abs=1e-6)
    assert r.confusion == [[3, 1], [2, 4]]
    assert r.accuracy.low <= r.accuracy.value <= r.accuracy.high and r.accuracy.high - r.accuracy.low > 0.1
    perfect = classification_report(np.eye(2)[labels], labels, ("a", "b"), bootstrap=20)
    assert perfect.auroc.value == 1.0 and perfect.accuracy.low == 1.0


def _separable_folder(root, n=16, size=24):
    rng = np.random.default_rng(0)
    for label, base in (("normal", 40), ("pneumonia", 190)):
        (root / label).mkdir(parents=True)
        for i in range(n):
            img = np.clip(base + rng.normal(0, 20, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = _separable_folder(tmp_path_factory.mktemp("data") / "cxr")
    data = load_image_folder(root, 32)
    out = tmp_path_factory.mktemp("models") / "clf"
    config = TrainConfig(
        arch="resnet18", input_size=32, epochs=3, batch_size=8, lr=1e-3, patience=3, augment=False, bootstrap=50
    )
    result = train_classifier(config, data, data, data, out, reproduce="edgegen train-classifier ...")
    return result, data


def test_training_learns_and_saves_a_card(trained):
    result, data = trained
    assert result.test.accuracy.value >= 0.9
    assert 1 <= result.best_epoch <= result.epochs_run <= 3
    card = json.loads((result.out_dir / "card.json").read_text())
    assert card["arch"] == "resnet18" and card["class_names"] == ["normal", "pneumonia"]
    assert card["data"]["train"]["sha256"] == data.content_hash() and card["data"]["train"]["counts"] == {
        "normal": 16,
        "pneumonia": 16,
    }
    assert card["metrics"]["test"]["accuracy"]["value"] == result.test.accuracy.value
    assert card["reproduce"].startswith("edgegen train-classifier")


def test_saved_model_reloads_identically(trained):
    result, data = trained
    model, card = load_classifier(result.out_dir)
    probs = predict_probs(model, data.images, card)
    assert probs.shape == (32, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == data.labels).mean() == pytest.approx(result.test.accuracy.value)
    assert extract_features(model, data.images[:5], card).shape == (5, 512)


def test_corrupt_or_missing_weights(trained, tmp_path):
    import shutil

    copy = tmp_path / "clf"
    shutil.copytree(trained[0].out_dir, copy)
    (copy / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="corrupt or not safetensors"):
        load_classifier(copy)
    (copy / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_classifier(copy)
    with pytest.raises(ModelError, match="card.json is missing"):
        load_classifier(tmp_path)


def test_training_refuses_a_class_without_images(trained):
    _, data = trained
    only_one = data.subset(np.flatnonzero(data.labels == 0))
    with pytest.raises(DataError, match="no training images for class"):
        train_classifier(TrainConfig(epochs=1), only_one, data, None, "/nonexistent/never-written")


def test_cli_train_and_evaluate(run_cli, tmp_path):
    root = _separable_folder(tmp_path / "cxr", n=12)
    (root / "normal" / "corrupt.png").write_bytes(b"not an image")
    out = tmp_path / "clf"
    code, stdout, _ = run_cli(
        "train-classifier",
        "--out",
        str(out),
        "--arch",
        "mobilenet_v3_small",
        "--data",
        str(root),
        "--size",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--bootstrap",
        "20",
        "--json",
    )
    assert code == 0, stdout
    result = json.loads(stdout)
    assert result["epochs_run"] >= 1 and (out / "model.safetensors").is_file()
    code, stdout, _ = run_cli("evaluate", str(out), "--data", str(root), "--bootstrap", "20", "--json")
    assert code == 0
    evaluation = json.loads(stdout)
    assert evaluation["report"]["n"] == 24 and evaluation["skipped"] == 1
    code, _, err = run_cli("evaluate", str(tmp_path / "missing"), "--data", str(root))
    assert code == ModelError.exit_code and err.count("\n") == 1


def test_multilabel_classifier_trains_exports_to_int8_and_classifies(run_cli, tmp_path):
    """A findings (multi-label) classifier goes the binary one's way: train, export FP32 + INT8,
    classify on ONNX Runtime with per-finding metrics; a classifier the export does not hold is
    refused in one line."""
    clf = tmp_path / "findings"
    code, out, err = run_cli(
        "train-classifier", "--out", str(clf), "--arch", "cxr_cnn_small", "--data", "nih-cxr14-128", "--size", "64",
        "--task", "findings", "--epochs", "1", "--batch-size", "32", "--bootstrap", "20", "--json",
    )  # fmt: skip
    assert code == 0, err
    card = json.loads((clf / "card.json").read_text())
    assert card["task"] == "multilabel" and len(card["class_names"]) == 4 and card.get("calibration")
    code, _, err = run_cli(
        "export", "tiny", "--classifier", str(clf), "--components", "classifier", "--precision", "fp32,int8",
        "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert code == 0, err
    folder = tmp_path / "x" / "tiny" / "cpu-x86"
    code, out, err = run_cli(
        "classify", "nih-cxr14-128", "--artifacts", str(folder), "--backend", "ort-cpu", "--precision", "int8",
        "--classifier", str(clf), "--bootstrap", "20", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)["report"]
    assert set(report["per_finding"]) == {
        "atelectasis", "lung_opacity", "pleural_effusion", "enlarged_cardiac_silhouette"
    }  # fmt: skip
    assert 0.0 <= report["macro_auroc"]["value"] <= 1.0
    code, _, err = run_cli("classify", "nih-cxr14-128", "--artifacts", str(folder), "--backend", "ort-cpu")
    assert code == 0, err  # no --classifier: the export's own
    code, _, err = run_cli(
        "classify", "nih-cxr14-128", "--artifacts", str(folder), "--backend", "ort-cpu", "--classifier", "cxr-features"
    )
    assert code == ArtifactError.exit_code and err.count("\n") == 1 and "holds another classifier" in err
