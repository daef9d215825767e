"""Findings as data: the mapping, CheXpert-style CSVs with uncertainty policies, the chest-xray-128
npz layout, prompt conditions, and multi-label metrics with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgegen.conditions import (
    CLASS_TEMPLATE,
    FINDINGS_TEMPLATE,
    Condition,
    Conditioning,
    resolve_conditions,
    training_conditioning,
)
from edgegen.data.findings import UncertainPolicy, load_findings_map
from edgegen.data.load import load_dataset
from edgegen.errors import DataError, UsageError


def _images(folder, n):
    folder.mkdir(exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((20, 20), 30 * i, np.uint8)).save(folder / f"{i}.png")


def _chexpert_csv(
    tmp_path,
    rows,
    header="Path,Sex,Age,No Finding,Atelectasis,Cardiomegaly,Pleural Effusion,Lung Opacity,Consolidation,Edema",
):
    _images(tmp_path / "img", len(rows))
    lines = [header] + [f"img/{i}.png,F,50," + r for i, r in enumerate(rows)]
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mapping_resolves_aliases_and_rejects_unknown_names():
    fmap = load_findings_map()
    assert fmap.reader_study == ("atelectasis", "lung_opacity", "pleural_effusion", "enlarged_cardiac_silhouette")
    assert (
        fmap.resolve("Effusion") == "pleural_effusion" and fmap.resolve("cardiomegaly") == "enlarged_cardiac_silhouette"
    )
    assert fmap.resolve("Lung Opacity") == "lung_opacity"
    with pytest.raises(UsageError, match="unknown finding 'tuberculosis'"):
        fmap.resolve("tuberculosis")


@pytest.mark.parametrize(
    ("policy", "expected_atelectasis"),
    [
        (UncertainPolicy.ONES, [1.0, 1.0, 0.0, 0.0]),
        (UncertainPolicy.ZEROS, [1.0, 0.0, 0.0, 0.0]),
        (UncertainPolicy.IGNORE, [1.0, np.nan, 0.0, 0.0]),
    ],
)
def test_chexpert_csv_with_uncertainty_policies(tmp_path, policy, expected_atelectasis):
    path = _chexpert_csv(tmp_path, ["0,1,0,,1,0,", "0,-1,,1,,1,1", "1,0,0,0,0,0,0", ",,,,-1.0,,"])
    data = load_dataset(str(path), "train", 16, uncertain=policy)
    col = data.findings[:, data.finding_names.index("atelectasis")]
    np.testing.assert_array_equal(col, np.array(expected_atelectasis, np.float32))
    opacity = data.findings[:, data.finding_names.index("lung_opacity")]
    # Lung Opacity OR Consolidation: row 1 (consolidation 1), row 0 (opacity 1); row 3's -1 follows the policy
    assert opacity[0] == 1 and opacity[1] == 1 and opacity[2] == 0
    assert data.class_names == ("normal", "abnormal") and data.labels.tolist()[2] == 0  # No Finding = 1 → normal


def test_chexpert_csv_errors_name_the_file_column_and_value(tmp_path):
    path = _chexpert_csv(tmp_path, ["0,2,0,,1,0,"])
    with pytest.raises(DataError, match=r"line 2, column 'Atelectasis': value '2' is not 1, 0, -1 or blank"):
        load_dataset(str(path), "train", 16)
    path = _chexpert_csv(
        tmp_path,
        ["0,1,0,,1,0,0"],
        header="Path,Sex,Age,No Finding,Atelectasis,Cardiomegaly,Pleural Effusion,Lung Opacity,Consolidation,Efusion",
    )
    with pytest.raises(DataError, match="column 'Efusion' is neither a finding"):
        load_dataset(str(path), "train", 16)


def test_nih_style_csv_loads_with_nih_column_names(tmp_path):
    # Atelectasis, Cardiomegaly and No Finding are CheXpert names too: Effusion and Infiltration
    # must still be read as NIH columns, not refused as unknown.
    path = _chexpert_csv(
        tmp_path,
        ["0,1,0,1,0,0", "0,0,1,0,1,1", "1,0,0,0,0,0"],
        header="Path,Sex,Age,No Finding,Atelectasis,Cardiomegaly,Effusion,Infiltration,Consolidation",
    )
    data = load_dataset(str(path), "train", 16)
    col = lambda name: data.findings[:, data.finding_names.index(name)].tolist()  # noqa: E731
    assert col("pleural_effusion") == [1.0, 0.0, 0.0]
    assert col("lung_opacity") == [0.0, 1.0, 0.0]  # Infiltration OR Consolidation
    assert col("enlarged_cardiac_silhouette") == [0.0, 1.0, 0.0]
    mixed = _chexpert_csv(tmp_path, ["0,1,0,1"], header="Path,Sex,Age,No Finding,Effusion,Pleural Effusion")
    with pytest.raises(DataError, match="mix two label vocabularies"):
        load_dataset(str(mixed), "train", 16)


def test_npz_without_the_expected_keys_is_a_one_line_error(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, pictures=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match="unknown .npz layout"):
        load_dataset(str(bad), "train", 8)
    half = tmp_path / "half.npz"
    np.savez(half, images=np.zeros((2, 8, 8), np.uint8), split=np.array(["train", "test"]))
    with pytest.raises(DataError, match="missing key\\(s\\) patient_id, label_names, labels"):
        load_dataset(str(half), "train", 8)


def test_conditions_compose_population_and_findings_and_guard_unknown_ones():
    data = load_dataset("kermany-128+nih-cxr14-128", "train", 16)
    vocab, prompts = training_conditioning(data, FINDINGS_TEMPLATE)
    assert len(prompts) == len(data)
    assert vocab.classes["pneumonia"] == {"population": "pediatric", "findings": ["pneumonia"]}
    assert vocab.classes["normal"]["population"] == "pediatric"  # the first dataset's population
    assert "abnormal" not in vocab.classes  # NIH's mixed "abnormal" has no dominant finding set
    assert vocab.finding_populations["pleural_effusion"] == "adult"
    conds = resolve_conditions(vocab, None, ["effusion", "cardiomegaly+effusion"], None)
    assert conds[0] == Condition("pleural_effusion", "adult", ("pleural_effusion",))
    assert conds[1].name == "pleural_effusion+enlarged_cardiac_silhouette"
    assert (
        conds[1].prompt(vocab.template)
        == "a chest X-ray, frontal view, adult, pleural effusion, enlarged cardiac silhouette"
    )
    with pytest.raises(UsageError, match="class 'tuberculosis' is not one the model was trained on"):
        resolve_conditions(vocab, ["tuberculosis"], None, None)
    assert resolve_conditions(vocab, ["tuberculosis"], None, None, allow_unknown=True)[0].name == "tuberculosis"
    with pytest.raises(UsageError, match="population 'elderly'"):
        resolve_conditions(vocab, ["normal"], None, "elderly")
    legacy = Conditioning.from_dict(None, ("normal", "pneumonia"), CLASS_TEMPLATE)
    with pytest.raises(UsageError, match="class prompts only"):
        resolve_conditions(legacy, None, ["effusion"], None)
    untrained = Conditioning.from_dict(None, (), CLASS_TEMPLATE)  # a preset with random weights
    assert (
        resolve_conditions(untrained, ["anything"], None, None)[0].prompt(CLASS_TEMPLATE)
        == "a chest X-ray, frontal view, anything"
    )


def test_multilabel_report_known_answers():
    from edgegen.classifiers.multilabel import choose_thresholds, multilabel_report

    y = np.array([[1, 0], [1, 0], [0, 1], [0, np.nan], [0, 1], [1, 0]], np.float32)
    perfect = np.where(np.isnan(y), 0.5, y) * 0.8 + 0.1
    r = multilabel_report(perfect, y, ("a", "b"), bootstrap=50)
    assert r.macro_auroc.value == 1.0 and r.per_finding["a"].average_precision.value == 1.0
    assert r.per_finding["b"].n_negative == 3 and r.per_finding["b"].n_positive == 2  # the NaN is left out
    inverted = 1.0 - perfect
    assert multilabel_report(inverted, y, ("a", "b"), bootstrap=0).macro_auroc.value == 0.0
    thr = choose_thresholds(perfect, y)
    assert multilabel_report(perfect, y, ("a", "b"), thr, bootstrap=0).per_finding["a"].f1.value == 1.0
    one_class = np.array([[0], [0], [0]], np.float32)
    r = multilabel_report(np.array([[0.1], [0.2], [0.3]]), one_class, ("c",), bootstrap=0)
    assert r.per_finding["c"].auroc is None and r.macro_auroc is None and r.macro_over == ()


def test_a_user_findings_map_renames_columns_for_every_command(tmp_path, monkeypatch, run_cli):
    import yaml

    from edgegen.data.findings import FINDINGS_MAP, FINDINGS_MAP_ENV, use_findings_map

    monkeypatch.delenv(FINDINGS_MAP_ENV, raising=False)
    raw = yaml.safe_load(FINDINGS_MAP.read_text())
    raw["findings"]["pleural_effusion"]["sources"]["chexpert"] = ["Effusion (pleural)"]  # a site's own column name
    mine = tmp_path / "map.yaml"
    mine.write_text(yaml.safe_dump(raw))
    header = "Path,Sex,Age,No Finding,Atelectasis,Cardiomegaly,Effusion (pleural),Lung Opacity,Consolidation,Edema"
    path = _chexpert_csv(tmp_path, ["0,1,0,1,1,0,", "1,0,0,0,0,0,0"], header=header)
    with pytest.raises(DataError, match="column 'Effusion \\(pleural\\)' is neither a finding"):
        load_dataset(str(path), "train", 16)  # the embedded map does not know the column
    try:
        use_findings_map(mine)
        data = load_dataset(str(path), "train", 16)
        assert data.findings[:, data.finding_names.index("pleural_effusion")].tolist() == [1.0, 0.0]
    finally:
        use_findings_map(None)
    # on the command line: a broken map is a one-line data error with its exit code, and nothing runs
    bad = tmp_path / "bad.yaml"
    bad.write_text("findings: [not, a, mapping]\n")
    code, _, err = run_cli("--findings-map", str(bad), "profiles", "list")
    assert code == DataError.exit_code and "needs a 'findings' mapping" in err and err.count("\n") == 1
    monkeypatch.delenv(FINDINGS_MAP_ENV, raising=False)


def test_bad_findings_input_on_the_command_line_writes_nothing(tmp_path, run_cli):
    path = _chexpert_csv(tmp_path, ["0,2,0,,1,0,"])  # a label outside {1, 0, -1, blank}
    out = tmp_path / "clf"
    code, _, err = run_cli("train-classifier", "--out", str(out), "--data", str(path), "--task", "findings")
    assert code == DataError.exit_code and "value '2' is not 1, 0, -1 or blank" in err and err.count("\n") == 1
    code, _, err = run_cli(
        "train-classifier",
        "--out",
        str(out),
        "--data",
        "nih-cxr14-128",
        "--task",
        "findings",
        "--finding",
        "tuberculosis",
    )
    assert code == UsageError.exit_code and "unknown finding 'tuberculosis'" in err and err.count("\n") == 1
    assert not out.exists()
    gen_out = tmp_path / "g"
    code, _, err = run_cli(
        "generate", "--out", str(gen_out), "--backend", "torch", "--n", "1", "--finding", "tuberculosis"
    )
    assert code == UsageError.exit_code and err.count("\n") == 1
    assert not gen_out.exists()
