"""`edgegen reader create`: a balanced, seeded, blinded study folder, or nothing at all."""

from __future__ import annotations

import json
import stat
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from edgegen.reader.blinding import Candidate, plain_png, plan_study, png_chunk_types, png_has_text, stratified_pick
from edgegen.reader.layout import IMAGE_ID, load_study
from edgegen.runtime.provenance import png_bytes
from tests.reader_support import (
    SECRET_FILE,
    SOURCE_NAMES,
    key_of,
    make_study,
    write_real_folder,
    write_synthetic_folder,
)


def test_plain_png_has_only_the_critical_chunks_and_round_trips():
    gray = np.arange(48 * 48, dtype=np.uint32).reshape(48, 48).astype(np.uint8)
    data = plain_png(gray)
    assert png_chunk_types(data) == ["IHDR", "IDAT", "IEND"]
    assert png_has_text(png_bytes(gray, {"model": "x"})) and not png_has_text(data)
    import io

    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), gray)


def test_stratified_pick_alternates_classes_and_refuses_too_many():
    cands = [Candidate("s", i, "a" if i < 8 else "b") for i in range(10)]
    picked = stratified_pick(cands, 4, np.random.default_rng(0))
    assert Counter(c.class_name for c in picked) == {"a": 2, "b": 2}
    assert Counter(c.class_name for c in stratified_pick(cands, 6, np.random.default_rng(0))) == {"a": 4, "b": 2}
    with pytest.raises(Exception, match="fewer than the 11"):
        stratified_pick(cands, 11, np.random.default_rng(0))


def test_plan_is_seeded_but_ids_are_fresh():
    sources = {"real": [Candidate("real", i, "x") for i in range(20)], "a": [Candidate("a", i, "y") for i in range(20)]}
    one, two = plan_study(sources, {"real": 5, "a": 5}, seed=7), plan_study(sources, {"real": 5, "a": 5}, seed=7)
    assert [p.candidate for p in one] == [p.candidate for p in two]
    assert {p.image_id for p in one}.isdisjoint({p.image_id for p in two})
    assert all(IMAGE_ID.fullmatch(p.image_id) for p in one)
    assert [p.candidate for p in plan_study(sources, {"real": 5, "a": 5}, seed=8)] != [p.candidate for p in one]


def test_create_writes_a_balanced_blinded_study(tmp_path):
    result = make_study(tmp_path, per_source=3)
    study = result.study
    assert result.counts == {"real": 6, SOURCE_NAMES[0]: 3, SOURCE_NAMES[1]: 3} and result.n_images == 12
    key = key_of(study)
    assert Counter(k["truth"] for k in key.values()) == {"real": 6, "synthetic": 6}
    assert Counter(k["class_name"] for k in key.values() if k["truth"] == "real") == {"normal": 3, "pneumonia": 3}
    assert all(k["origin"].startswith(("normal/", "pneumonia/")) for k in key.values() if k["truth"] == "real")
    assert {k["details"].get("backend") for k in key.values() if k["truth"] == "synthetic"} == {"ort-cpu"}
    assert stat.S_IMODE((study / "key.json").stat().st_mode) == 0o600
    files = sorted(p.name for p in (study / "images").iterdir())
    assert files == sorted(f"{i}.png" for i in key)
    for f in (study / "images").iterdir():
        data = f.read_bytes()
        assert png_chunk_types(data) == ["IHDR", "IDAT", "IEND"]
        for secret in (SECRET_FILE, "DOE^JANE", "edgegen", "ort-cpu", *SOURCE_NAMES):
            assert secret.encode() not in data
        with Image.open(f) as im:
            assert im.size == (48, 48) and im.mode == "L"
    public = (study / "study.json").read_text()
    for secret in (*SOURCE_NAMES, SECRET_FILE, "pneumonia", "normal", '"real"', '"synthetic"'):
        assert secret not in public
    info = load_study(study)
    assert sorted(info.ids) == sorted(key) and info.ids == sorted(info.ids)  # sorted: the listing order says nothing
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_findings_question_goes_to_images_labelled_with_a_finding(tmp_path):
    result = make_study(tmp_path, per_source=3, findings=True)
    key = key_of(result.study)
    asked = {im.id: im.finding for im in load_study(result.study).images}
    for image_id, k in key.items():
        if k["source"] == SOURCE_NAMES[0]:
            assert asked[image_id] == "pleural_effusion"
        elif k["class_name"] == "pneumonia":
            assert asked[image_id] == "pneumonia"
        else:
            assert asked[image_id] is None  # "normal" is no finding: nothing to ask
    assert result.finding_questions == {"real": 3, SOURCE_NAMES[0]: 3, SOURCE_NAMES[1]: 3}


def test_create_from_the_embedded_real_set(tmp_path, run_cli):
    synth = write_synthetic_folder(tmp_path / "s", "gen", 4)
    code, out, err = run_cli(
        "reader",
        "create",
        str(tmp_path / "study"),
        "--real",
        "default",
        "--synthetic",
        f"gen={synth}",
        "--per-source",
        "4",
        "--size",
        "32",
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"] == {"real": 4, "gen": 4} and len(report["admin_token"]) >= 40
    key = key_of(tmp_path / "study")
    assert sum(k["origin"].startswith("default:test#") for k in key.values()) == 4


@pytest.fixture
def sources(tmp_path):
    real = write_real_folder(tmp_path / "real", per_class=3)
    synth = write_synthetic_folder(tmp_path / "synth", "a", 4)
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.bin").write_bytes(b"not an image")
    return tmp_path, real, synth


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--synthetic", "a={synth}", "--real", "{tmp}/missing"], 5, "not found"),
        (["--synthetic", "a:{synth}"], 2, "is not NAME=DIR"),
        (["--synthetic", "a={synth}", "--synthetic", "a={synth}"], 2, "given twice"),
        (["--synthetic", "real={synth}"], 2, "reserved"),
        (["--synthetic", "a={tmp}/nowhere"], 5, "does not exist"),
        (["--synthetic", "a={tmp}/empty"], 5, "no readable images"),
        (["--synthetic", "a={tmp}/junk"], 5, "no readable images"),
        (["--synthetic", "a={synth}", "--per-source", "5"], 5, "fewer than the 5"),
        (["--synthetic", "a={synth}", "--per-source", "0"], 2, "at least 1"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(sources, run_cli, args, code, message):
    tmp, real, synth = sources
    args = [a.format(tmp=tmp, synth=synth) for a in args]
    if "--real" not in args:
        args += ["--real", str(real)]
    before = sorted(p.name for p in tmp.iterdir())
    got, _, err = run_cli("reader", "create", str(tmp / "out" / "study"), *args)
    assert got == code and err.startswith("edgegen: error:") and err.strip().count("\n") == 0 and message in err
    assert sorted(p.name for p in tmp.iterdir()) == before  # no study, no temp folder, no parent


def test_an_existing_study_is_never_overwritten(tmp_path, run_cli):
    result = make_study(tmp_path)
    before = (result.study / "key.json").read_bytes()
    code, _, err = run_cli(
        "reader",
        "create",
        str(result.study),
        "--real",
        str(tmp_path / "real"),
        "--synthetic",
        f"a={tmp_path / 'fp32'}",
        "--per-source",
        "2",
    )
    assert code == 2 and "already exists" in err
    assert (result.study / "key.json").read_bytes() == before


def test_dicom_tags_and_jpeg_exif_never_reach_the_study(tmp_path):
    """Real images as DICOM (patient and institution tags) and JPEG (EXIF) come out as pixels only."""
    from edgegen.reader.create import CreateRequest, SyntheticSource, create_study
    from edgegen.runtime.provenance import write_dicom

    rng = np.random.default_rng(0)
    real = tmp_path / "real"
    for cls in ("normal", "pneumonia"):
        (real / cls).mkdir(parents=True)
        write_dicom(
            real / cls / "scan.dcm",
            rng.integers(0, 255, (40, 40), dtype=np.uint8),
            {"prompt": "SECRET-PROMPT", "sha256": "SECRETHASH0123"},
        )
        exif = Image.Exif()
        exif[0x010E] = "SECRET-CAMERA"
        Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(
            real / cls / "photo.jpg", exif=exif.tobytes()
        )
    synth = write_synthetic_folder(tmp_path / "s", "gen", 4)
    result = create_study(
        CreateRequest(
            tmp_path / "study", str(real), (SyntheticSource("gen", synth),), 4, None, False, False, 40, "test", 0, ()
        )
    )
    key = key_of(result.study)
    assert sorted(k["origin"] for k in key.values() if k["truth"] == "real") == [
        "normal/photo.jpg",
        "normal/scan.dcm",
        "pneumonia/photo.jpg",
        "pneumonia/scan.dcm",
    ]
    for f in (result.study / "images").iterdir():
        data = f.read_bytes()
        assert png_chunk_types(data) == ["IHDR", "IDAT", "IEND"]
        for secret in (b"SECRET", b"SYNTHETIC", b"DICM", b"Exif"):
            assert secret not in data
