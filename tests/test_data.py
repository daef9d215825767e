"""Data loaders on real files written here: PNG/JPEG folders, CSV, DICOM (incl. MONOCHROME1), .npz."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgegen.data.csv_manifest import load_csv_manifest
from edgegen.data.default import load_default
from edgegen.data.dicom import read_dicom_pixels
from edgegen.data.folder import load_image_folder
from edgegen.data.imageset import merge
from edgegen.data.load import load_dataset, mix_real_synthetic, stratified_split
from edgegen.data.medmnist import load_medmnist
from edgegen.errors import DataError


def _gradient(h=40, w=50) -> np.ndarray:
    return np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))


def write_dicom(
    path, pixels: np.ndarray, photometric="MONOCHROME2", bits_stored=None, window=None, slope=1.0, intercept=0.0
):
    from edgegen.runtime.provenance import secondary_capture_dataset

    ds = secondary_capture_dataset()  # then identifying tags, as a real scanner file would carry
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "SECRET-123"
    ds.Modality = "CR"
    ds.set_pixel_data(pixels, photometric, bits_stored or pixels.dtype.itemsize * 8)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if slope != 1.0 or intercept != 0.0:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.save_as(path, enforce_file_format=True)


def test_dicom_monochrome1_is_inverted(tmp_path):
    pixels = _gradient().astype(np.uint16) * 16  # 12-bit data in 16-bit words
    write_dicom(tmp_path / "m2.dcm", pixels, "MONOCHROME2", bits_stored=12)
    write_dicom(tmp_path / "m1.dcm", pixels, "MONOCHROME1", bits_stored=12)
    m2, m1 = read_dicom_pixels(tmp_path / "m2.dcm"), read_dicom_pixels(tmp_path / "m1.dcm")
    assert m2.dtype == np.uint8 and m2[0, 0] == 0 and m2[0, -1] == 255
    assert np.array_equal(m1, 255 - m2)


def test_dicom_windowing_and_rescale(tmp_path):
    pixels = np.tile(np.arange(0, 4096, 64, dtype=np.uint16), (16, 1))  # 64 columns, 0..4032
    write_dicom(tmp_path / "w.dcm", pixels, bits_stored=12, window=(1024, 512))
    out = read_dicom_pixels(tmp_path / "w.dcm")
    # Values below centre-width/2 are black and above centre+width/2 white: the window was applied.
    assert out[0, 0] == 0 and out[0, 10] == 0 and out[0, 20] == 255 and out[0, -1] == 255
    assert 0 < out[0, 16] < 255
    write_dicom(tmp_path / "r.dcm", pixels, bits_stored=12, slope=2.0, intercept=-1024.0)
    assert read_dicom_pixels(tmp_path / "r.dcm")[0, -1] == 255


def test_dicom_8bit_and_no_tag_leaks(tmp_path):
    write_dicom(tmp_path / "a.dcm", _gradient(), bits_stored=8)
    out = read_dicom_pixels(tmp_path / "a.dcm")
    assert out.shape == (40, 50) and isinstance(out, np.ndarray)  # only pixels come back


def _class_folder(tmp_path, n=3, corrupt=True):
    root = tmp_path / "cxr"
    for label, shade in (("normal", 60), ("pneumonia", 200)):
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((48, 64), shade + i, np.uint8)).save(root / label / f"{i}.png")
    write_dicom(root / "pneumonia" / "d.dcm", np.full((40, 40), 3000, np.uint16), "MONOCHROME1", bits_stored=12)
    if corrupt:
        (root / "normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
        (root / "pneumonia" / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    return root


def test_image_folder_skips_and_reports_corrupt_files(tmp_path):
    data = load_image_folder(_class_folder(tmp_path), size=32)
    assert data.class_names == ("normal", "pneumonia")
    assert data.images.shape == (7, 32, 32) and data.class_counts() == {"normal": 3, "pneumonia": 4}
    assert len(data.skipped) == 2
    summary = data.skipped_summary()
    assert "skipped 2 unreadable file(s)" in summary and "broken.png" in summary and "broken.dcm" in summary
    assert data.images[0].mean() == pytest.approx(60, abs=1)  # center-cropped and resized, not distorted


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "nope", 32)
    (tmp_path / "flat").mkdir()
    Image.fromarray(_gradient()).save(tmp_path / "flat" / "x.png")
    with pytest.raises(DataError, match="no class sub-folders, so its images are unlabeled"):
        load_image_folder(tmp_path / "flat", 32)
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    (empty / "b" / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="no usable images; skipped 1 unreadable"):
        load_image_folder(empty, 32)


def test_csv_manifest(tmp_path):
    root = _class_folder(tmp_path, corrupt=False)
    csv = tmp_path / "m.csv"
    csv.write_text(
        "path,label\ncxr/normal/0.png,normal\ncxr/pneumonia/1.png,pneumonia\n"
        + f"{root / 'pneumonia' / 'd.dcm'},pneumonia\nmissing.png,normal\n"
    )
    data = load_csv_manifest(csv, 16)
    assert len(data) == 3 and data.class_names == ("normal", "pneumonia") and len(data.skipped) == 1
    csv.write_text("path,label\ncxr/normal/0.png,\n")
    with pytest.raises(DataError, match="1 row\\(s\\) have no label"):
        load_csv_manifest(csv, 16)
    csv.write_text("file,class\na.png,x\n")
    with pytest.raises(DataError, match="'path' and 'label' columns"):
        load_csv_manifest(csv, 16)


def test_medmnist_npz_and_chestmnist_multilabel(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "pneumoniamnist.npz"
    arrays = {}
    for split, n in (("train", 10), ("val", 4), ("test", 6)):
        arrays[f"{split}_images"] = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1).astype(np.uint8)
    np.savez(path, **arrays)
    data = load_medmnist(path, "val", 64)
    assert data.images.shape == (4, 64, 64) and data.class_names == ("normal", "pneumonia")
    chest = tmp_path / "chestmnist.npz"
    labels = np.zeros((5, 14), np.uint8)
    labels[[1, 3], 6] = 1
    np.savez(chest, test_images=rng.integers(0, 255, (5, 28, 28), dtype=np.uint8), test_labels=labels)
    with pytest.raises(DataError, match="multi-label \\(14 columns\\).*--label-column"):
        load_medmnist(chest, "test", 28)
    binary = load_medmnist(chest, "test", 28, label_column=6)
    assert binary.class_names == ("no-pneumonia", "pneumonia") and binary.labels.tolist() == [0, 1, 0, 1, 0]
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_medmnist(tmp_path / "bad.npz", "train", 28)
    with pytest.raises(DataError, match="no train_images"):
        load_medmnist(chest, "train", 28)


def test_embedded_datasets():
    test = load_default("test", 128)  # default = kermany-128
    assert test.class_counts() == {"normal": 84, "pneumonia": 228}
    assert load_default("val", 64).class_counts() == {"normal": 30, "pneumonia": 125}
    assert load_dataset("pneumoniamnist", "test", 28).class_counts() == {"normal": 234, "pneumonia": 390}
    assert len(load_dataset("pneumoniamnist", "train", 28)) == 3882
    nih = load_dataset("nih-cxr14-128", "train", 64)
    assert nih.images.shape == (1123, 64, 64) and set(nih.meta["population"]) == {"adult"}
    counts = nih.finding_counts()
    assert counts["pleural_effusion"]["positive"] == 109 and counts["enlarged_cardiac_silhouette"]["positive"] == 53
    assert counts["lung_opacity"]["positive"] == 270  # Infiltration OR Consolidation
    # every per-image key travels as metadata: NIH view, age, sex, follow-up, official split, file name
    assert set(nih.meta["view"]) == {"AP", "PA"} and set(nih.meta["sex"]) == {"F", "M"}
    assert set(nih.meta["official_split"]) <= {"train_val", "test"} and nih.meta["file_name"][0].endswith(".png")
    assert int(nih.meta["age"][0]) > 0 and "Effusion" in "|".join(nih.meta["finding_labels"])
    assert set(test.meta["subtype"]) == {"normal", "bacteria", "virus"}  # Kermany: bacterial / viral pneumonia
    both = load_dataset("kermany-128+nih-cxr14-128", "test", 32)
    assert len(both) == 312 + 320 and set(both.meta["population"]) == {"adult", "pediatric"}
    assert np.isnan(
        both.findings[:312, both.finding_names.index("atelectasis")]
    ).all()  # unknown for Kermany, not negative
    splits = {s: set(load_dataset("cxr-128", s, 16).patient_ids) for s in ("train", "val", "test")}
    assert not (splits["train"] & splits["test"]) and not (splits["train"] & splits["val"])


def test_split_and_mix(tmp_path):
    data = load_dataset("pneumoniamnist", "val", 28)
    rest, held = stratified_split(data, 0.2, seed=1)
    assert len(rest) + len(held) == len(data)
    assert held.class_counts() == {"normal": 27, "pneumonia": 78}
    k_rest, k_held = stratified_split(load_default("train", 32), 0.2, seed=1)
    assert not set(k_rest.patient_ids) & set(k_held.patient_ids)  # whole patients on one side
    synth = load_image_folder(_class_folder(tmp_path, n=20, corrupt=False), 28)
    hybrid = mix_real_synthetic(held, synth, 0.2, seed=0)
    assert len(hybrid) == len(held) + round(len(held) * 0.25)
    assert mix_real_synthetic(held, synth, 0.0, 0) is held
    assert len(mix_real_synthetic(held, synth, 1.0, 0)) == len(synth)
    with pytest.raises(DataError, match="sizes"):
        merge([held, load_image_folder(tmp_path / "cxr", 32)], "x")
