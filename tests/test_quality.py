"""Quality metrics on constructed cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from edgegen.quality.detectability import detectability
from edgegen.quality.distances import fid, frechet_distance, kid, prdc
from edgegen.quality.diversity import diversity
from edgegen.quality.memorization import memorization, same_patient_similarity, thumbnails


def test_kid_of_identical_sets_is_zero_within_its_interval():
    x = np.random.default_rng(0).standard_normal((200, 16))
    est = kid(x, x.copy(), bootstrap=200)
    assert est.value == pytest.approx(0.0, abs=1e-12)
    assert est.low <= 0.0 <= est.high


def test_kid_of_two_samples_of_one_distribution_contains_zero():
    rng = np.random.default_rng(10)
    est = kid(rng.standard_normal((300, 16)), rng.standard_normal((300, 16)), bootstrap=300)
    assert est.low <= 0.0 <= est.high


def test_kid_separates_shifted_sets_and_orders_them():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 16))
    near = rng.standard_normal((300, 16)) + 0.2
    far = rng.standard_normal((300, 16)) + 1.0
    k_near, k_far = kid(near, a), kid(far, a)
    assert k_near.low > 0  # a 0.2 shift in 16-d is detected at n=300
    assert k_far.low > k_near.high


def test_frechet_distance_matches_the_closed_form():
    d = 8
    mu = np.arange(d) / 4.0
    # N(0, I) vs N(mu, 4I): |mu|^2 + tr(I + 4I - 2*(4I)^1/2) = |mu|^2 + d
    assert frechet_distance(np.zeros(d), np.eye(d), mu, 4 * np.eye(d)) == pytest.approx(float(mu @ mu) + d, rel=1e-9)


def test_fid_from_gaussian_samples_is_within_2_percent_of_the_closed_form():
    rng = np.random.default_rng(2)
    d, n = 8, 20000
    mu = np.full(d, 0.7)
    x = rng.standard_normal((n, d))
    y = rng.standard_normal((n, d)) * 2.0 + mu
    expected = float(mu @ mu) + d
    est = fid(x, y, bootstrap=5)
    assert est.value == pytest.approx(expected, rel=0.02)
    assert est.low <= expected * 1.02 and est.high >= expected * 0.98


def test_fid_refuses_small_samples():
    x = np.random.default_rng(0).standard_normal((100, 4))
    assert fid(x, x) is None


def test_prdc_on_a_toy_set_matches_hand_computed_values():
    # Points on a line, k=1: each ball's radius is the distance to the nearest other point.
    real = np.array([[0.0], [1.0], [2.0], [10.0]])  # radii 1, 1, 1, 8
    fake = np.array([[0.5], [1.5], [20.0]])  # radii 1, 1, 18.5
    r = prdc(real, fake, k=1, bootstrap=0)
    assert r.precision.value == pytest.approx(2 / 3, abs=1e-4)  # 20 lies in no real ball
    assert r.recall.value == pytest.approx(1.0)  # 10 lies in 20's ball (radius 18.5)
    assert r.density.value == pytest.approx(4 / 3, abs=1e-4)  # 0.5 and 1.5 each lie in two real balls
    assert r.coverage.value == pytest.approx(0.75)  # 10's nearest fake (1.5, at 8.5) is outside its ball


def test_diversity_sees_mode_collapse():
    rng = np.random.default_rng(3)
    real = rng.standard_normal((100, 8))
    collapsed = rng.standard_normal((100, 8)) * 0.1
    d = diversity(collapsed, real)
    assert d.ratio.high < 0.2
    same = diversity(rng.standard_normal((100, 8)), real)
    assert same.ratio.low < 1.0 < same.ratio.high


def test_detectability_of_two_samples_of_one_distribution_is_chance():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((150, 20)), rng.standard_normal((150, 20))
    d = detectability(a, b, seed=0)
    assert d.auroc.low <= 0.5 <= d.auroc.high


def test_detectability_of_shifted_features_is_near_one():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((150, 20)), rng.standard_normal((150, 20)) + 1.0
    assert detectability(a, b, seed=0).auroc.value > 0.95


def test_detectability_keeps_a_patients_images_in_one_fold():
    """Two images per patient, near-identical: if a patient's twin sat in the training folds the
    classifier would recognise it; grouped folds keep real-vs-real at chance."""
    rng = np.random.default_rng(6)
    base = rng.standard_normal((80, 10)) * 3
    real = np.concatenate([base, base + 0.01 * rng.standard_normal(base.shape)])
    groups = np.concatenate([np.arange(80), np.arange(80)]).astype(str)
    other = rng.standard_normal((160, 10)) * 3
    d = detectability(real, other, groups, seed=0)
    assert d.auroc.low <= 0.5 <= d.auroc.high


def _smooth_images(rng, n, size=64):
    """Distinct low-frequency images (random Gaussian blobs), uint8."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        img = np.zeros((size, size))
        for _ in range(4):
            cx, cy, s, a = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.05, 0.3), rng.uniform(-1, 1)]
            img += a * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        img = (img - img.min()) / (np.ptp(img) + 1e-9)
        out.append((img * 255).astype(np.uint8))
    return np.stack(out)


def test_planted_near_copies_are_all_found():
    rng = np.random.default_rng(7)
    train = _smooth_images(rng, 120)
    patients = np.repeat(np.arange(60), 2).astype(str)
    # Each patient's second image is a mild variation of the first: "same-patient" pairs.
    train[1::2] = np.clip(train[0::2].astype(int) + rng.integers(-25, 26, train[0::2].shape), 0, 255).astype(np.uint8)
    fresh = _smooth_images(rng, 40)
    planted_from = np.array([3, 17, 40, 77, 101])
    planted = np.clip(train[planted_from] * 0.9 + 12 + rng.normal(0, 2, train[planted_from].shape), 0, 255).astype(
        np.uint8
    )  # brightness/contrast change + noise
    synthetic = np.concatenate([fresh, planted])
    feats = lambda im: thumbnails(im)  # noqa: E731 - pixel thumbnails stand in for features here
    m = memorization(synthetic, feats(synthetic), train, feats(train), patients, _smooth_images(rng, 30), None)
    flagged = set(m.pixel.near_copy_indices)
    assert set(range(40, 45)) <= flagged  # every planted copy is found
    assert len(flagged - set(range(40, 45))) <= 2  # and hardly any fresh image
    assert {p.synthetic_index for p in m.pixel.closest[:5]} == set(range(40, 45))
    assert m.pixel.threshold_from.startswith("the higher of: p95 of 120 same-patient")


def test_same_patient_similarity_needs_two_images():
    v = thumbnails(_smooth_images(np.random.default_rng(8), 4))
    assert len(same_patient_similarity(v, np.array(["a", "b", "c", "d"]))) == 0
    assert len(same_patient_similarity(v, np.array(["a", "a", "b", "c"]))) == 2


def test_unreadable_and_non_image_files_are_reported_and_skipped(tmp_path):
    from PIL import Image

    from edgegen.quality.sources import load_image_pool

    (tmp_path / "normal").mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 32), 40 * i, np.uint8)).save(tmp_path / "normal" / f"{i}.png")
    (tmp_path / "normal" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "normal" / "weights.bin").write_bytes(b"\0\1")
    (tmp_path / "normal" / "notes.txt").write_text("ignored quietly")
    pool = load_image_pool(tmp_path, 32)
    assert len(pool.images) == 3 and pool.names() == ["normal"]
    reasons = {p.split("/")[-1]: r for p, r in ((s.path, s.reason) for s in pool.skipped)}
    assert set(reasons) == {"broken.png", "weights.bin"}
    assert "not an image" in reasons["weights.bin"]


def test_temperature_scaling_recovers_a_known_temperature():
    from scipy.special import softmax

    from edgegen.classifiers.calibration import calibrate, expected_calibration_error, fit_temperature

    rng = np.random.default_rng(3)
    true_logits = rng.normal(0, 2, (4000, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(true_logits, axis=1)])  # calibrated by construction
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, abs=0.1)
    overconfident = 3.0 * true_logits  # the same model, three times too sure of itself
    assert fit_temperature(overconfident, labels) == pytest.approx(3.0, rel=0.1)
    cal = calibrate(overconfident, labels, False, "constructed")
    assert cal["ece_after"] < cal["ece_before"] and cal["ece_after"] < 0.03
    assert expected_calibration_error(np.full(100, 0.9), np.ones(100, bool)) == pytest.approx(0.1)


def _brightness_classifier():
    """A classifier whose answer is known: p(bright) = sigmoid(8·(mean pixel − 0.5)) on [0, 1] input."""
    import torch

    from edgegen.classifiers.card import ClassifierCard

    class Brightness(torch.nn.Module):
        def forward(self, x):
            m = (x * 0.25 + 0.5).mean(dim=(1, 2, 3))  # undo the card's normalisation
            z = 8.0 * (m - 0.5)
            return torch.stack([-z / 2, z / 2], dim=1)

    return Brightness(), ClassifierCard("brightness", ("dark", "bright"), 16, 0.5, 0.25)


def test_conditioning_fidelity_reads_mean_probability_not_a_saturating_label():
    from scipy.special import expit

    from edgegen.quality.fidelity import condition_fidelity

    model, card = _brightness_classifier()
    real = np.full((40, 16, 16), 230, np.uint8)  # clearly bright
    faint = np.full((40, 16, 16), 150, np.uint8)  # bright, but barely: a label would still say "bright"
    f = condition_fidelity(model, card, "bright", faint, real)
    assert f.synthetic_called == 1.0 and f.real_called == 1.0  # a thresholded label saturates at 100%
    assert f.synthetic_mean_prob.value == pytest.approx(expit(8 * (150 / 255 - 0.5)), abs=1e-3)
    assert f.real_mean_prob.value == pytest.approx(expit(8 * (230 / 255 - 0.5)), abs=1e-3)
    assert f.synthetic_mean_prob.high < f.real_mean_prob.low  # the mean probability sees the difference
    gray = condition_fidelity(model, card, "bright", np.full((40, 16, 16), 128, np.uint8), real)
    assert gray.synthetic_mean_prob.value == pytest.approx(0.5, abs=0.01)  # a constant mid-gray image: chance


def test_detectability_tells_real_from_blurred_through_the_feature_network():
    from PIL import Image, ImageFilter

    from edgegen.data.load import load_dataset
    from edgegen.quality.assess import split_halves
    from edgegen.quality.features import FeatureNetwork

    real = load_dataset("kermany-128", "test", 128)
    ia, ib = [], []
    for c in range(2):  # patient-disjoint halves of each class: two samples of one distribution
        idx = np.flatnonzero(real.labels == c)
        a_pos, b_pos = split_halves(real.patient_ids[idx], seed=c)
        ia.append(idx[a_pos])
        ib.append(idx[b_pos])
    ia, ib = np.concatenate(ia), np.concatenate(ib)
    blurred = np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(2))) for im in real.images[ib]])
    net = FeatureNetwork()
    _, fa = net.extract(real.images[ia])
    _, fb = net.extract(real.images[ib])
    _, fblur = net.extract(blurred)
    groups = real.patient_ids[ia]
    same = detectability(fa, fb, groups, synthetic_groups=real.patient_ids[ib], bootstrap=60)
    assert same.auroc.low <= 0.5 <= same.auroc.high  # two real halves: indistinguishable
    blur = detectability(fa, fblur, groups, bootstrap=60)
    assert blur.auroc.value >= 0.95  # a 2 px Gaussian blur is obvious to the multiscale features


def _write_folder(folder, images, names):
    from PIL import Image

    for i, (im, name) in enumerate(zip(images, names, strict=True)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(folder / name / f"{i:04d}.png")


def test_quality_command_end_to_end_real_as_synthetic_and_blurred(tmp_path, run_cli):
    """Real val images posing as synthetic score at the floor; blurred copies are spotted; the
    report shows grids, nearest-neighbour pairs and floor bars; a flat folder is judged as 'all'."""
    import json

    from PIL import Image, ImageFilter

    from edgegen.data.load import load_dataset

    val = load_dataset("kermany-128", "val", 128)
    names = [val.class_names[y] for y in val.labels]
    _write_folder(tmp_path / "real-as-synth", val.images, names)
    blurred = np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(2))) for im in val.images])
    _write_folder(tmp_path / "blurred", blurred, names)
    args = ("--split", "test", "--bootstrap", "30", "--json")
    code, out, _ = run_cli(
        "quality", "kermany-128", str(tmp_path / "real-as-synth"), "--out", str(tmp_path / "r"), *args
    )
    assert code == 0
    res = json.loads(out)
    pneu = next(c for c in res["conditions"] if c["condition"] == "pneumonia")
    assert pneu["n"] >= 60 and pneu["detectability"]["auroc"]["low"] <= 0.5 + 0.15  # real vs real: near chance
    assert pneu["kid"]["low"] <= pneu["kid_floor"]["high"]  # at the floor, within the intervals
    assert res["memorization"]["pixel"]["near_copies"]["value"] < 0.05  # other patients: no copies
    report = (tmp_path / "r" / "report.md").read_text()
    assert "floor" in report and ".png" in report and (tmp_path / "r" / "report.html").stat().st_size > 10_000
    code, out, _ = run_cli("quality", "kermany-128", str(tmp_path / "blurred"), "--no-memorization", *args)
    blur = next(c for c in json.loads(out)["conditions"] if c["condition"] == "pneumonia")
    assert code == 0 and blur["detectability"]["auroc"]["value"] >= 0.95
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, im in enumerate(val.images[:40]):
        Image.fromarray(im).save(flat / f"{i}.png")
    code, out, _ = run_cli("quality", "kermany-128", str(flat), "--no-memorization", *args)
    (only,) = json.loads(out)["conditions"]
    assert code == 0 and only["condition"] == "all" and only["matched_by"] == "all real images" and not only["skipped"]
