"""Cost model checked against hand-computed cases, and the `edgegen cost` command."""

from __future__ import annotations

import json
import math

import pytest

from edgegen.cost import (
    EdgeInputs,
    break_even_images_per_month,
    compare,
    edge_usd_per_image_at_utilization,
    energy_usd_per_image,
)

MONTH_S = 365.25 * 24 * 3600 / 12  # 2,629,800 s


def _box(**kw) -> EdgeInputs:
    base = dict(
        hardware_usd=1200.0,
        lifetime_years=5.0,
        utilization=0.5,
        load_watts=100.0,
        idle_watts=0.0,
        seconds_per_image=10.0,
        usd_per_kwh=0.15,
    )
    return EdgeInputs(**{**base, **kw})


def test_energy_per_image_by_hand():
    # 100 W × 10 s = 1000 J = 1/3600 kWh; × $0.15 = $0.0000416667
    assert energy_usd_per_image(_box()) == pytest.approx(0.15 / 3600)


def test_amortised_cost_at_utilization_by_hand():
    # lifetime images = 5 y × 31,557,600 s × 0.5 / 10 s = 7,889,400 → $1200 / 7,889,400 = $0.000152102
    assert edge_usd_per_image_at_utilization(_box()) == pytest.approx(1200 / 7_889_400 + 0.15 / 3600)


def test_break_even_by_hand():
    # hardware per month = 1200 / 60 = $20; margin per image = 0.04 − 0.0000416667 → V = 20 / 0.0399583 = 500.52
    assert break_even_images_per_month(_box(), 0.04) == pytest.approx(20 / (0.04 - 0.15 / 3600))
    # idle power adds a fixed monthly cost and refunds it per busy second:
    # idle $/s = 10 W / 3.6e6 × 0.15; fixed = 20 + idle·T; margin = 0.04 − e + idle·10 s
    idle_per_s = 10 / 3.6e6 * 0.15
    expected = (20 + idle_per_s * MONTH_S) / (0.04 - 0.15 / 3600 + idle_per_s * 10)
    assert break_even_images_per_month(_box(idle_watts=10.0), 0.04) == pytest.approx(expected)
    assert math.isinf(break_even_images_per_month(_box(), 0.00001))  # cloud cheaper than electricity
    assert math.isinf(break_even_images_per_month(_box(seconds_per_image=5000.0), 0.04))  # beyond capacity


def test_compare_at_volume_by_hand():
    c = compare(_box(), "dall-e-3", 0.04, 10_000)
    assert c.edge_usd_per_month == pytest.approx(20 + 10_000 * 0.15 / 3600)
    assert c.edge_usd_per_image == pytest.approx((20 + 10_000 * 0.15 / 3600) / 10_000)
    assert c.cloud_usd_per_month == pytest.approx(400)
    assert c.capacity_images_per_month == pytest.approx(MONTH_S / 10)
    assert c.energy_source == "profile estimate"


def test_cost_command(run_cli):
    code, out, _ = run_cli(
        "cost",
        "--profile",
        "jetson-agx-orin-64gb",
        "--cloud",
        "dall-e-3",
        "--cloud",
        "gpt-image-1",
        "--images-per-month",
        "10000",
        "--seconds-per-image",
        "6",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    d3, gi = data["comparisons"]
    assert d3["cloud_usd_per_image"] == 0.04 and gi["cloud_usd_per_image"] == 0.167  # auto → dearest tier
    month_hw = 1999 / 60
    assert d3["edge_usd_per_month"] == pytest.approx(
        month_hw + 10_000 * 60 * 6 / 3.6e6 * 0.1688 + 10 * (MONTH_S - 60_000) / 3.6e6 * 0.1688
    )
    code, _, err = run_cli("cost", "--profile", "laptop-rtx4060-8gb")
    assert code == 2 and "no reference seconds per image" in err
