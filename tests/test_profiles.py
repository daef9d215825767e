"""Device profiles: every bundled profile validates, and each kind of mistake is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from edgegen.errors import ProfileError
from edgegen.profiles import PROFILES_DIR, load_all_profiles, load_profile, profile_names
from edgegen.types import Backend, DeviceKind, Precision

REQUIRED = {
    "jetson-orin-nano-8gb",
    "jetson-orin-nx-16gb",
    "jetson-agx-orin-64gb",
    "laptop-rtx4060-8gb",
    "desktop-rtx4090-24gb",
    "cpu-x86",
    "cpu-intel",
}


def _base() -> dict:
    return yaml.safe_load((PROFILES_DIR / "cpu-x86.yaml").read_text())


def _write(tmp_path: Path, data: dict, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_bundled_profiles_cover_the_required_devices_and_validate():
    assert REQUIRED <= set(profile_names())
    for profile in load_all_profiles():
        assert profile.backends, profile.name
        assert profile.power.idle_w <= profile.power.load_w
        assert profile.hardware.price_usd > 0 and profile.electricity.usd_per_kwh > 0
        assert profile.shapes.resolution.min <= profile.generation.resolution <= profile.shapes.resolution.max


def test_profile_values_are_typed():
    nano = load_profile("jetson-orin-nano-8gb")
    assert nano.device.kind is DeviceKind.JETSON
    assert nano.backends[0] is Backend.TENSORRT
    assert nano.precision.unet is Precision.INT8
    assert nano.low_memory is True
    assert nano.shapes.batch.max == 2
    cpu = load_profile("cpu-x86")
    assert Backend.TENSORRT not in cpu.backends


def test_a_user_yaml_path_loads(tmp_path):
    data = _base()
    data["memory_budget_gb"] = 3.5
    profile = load_profile(_write(tmp_path, data))
    assert profile.memory_budget_gb == 3.5 and profile.name == "mine"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(colour="blue"), "colour: unknown key"),
        (lambda d: d["generation"].update(steps="twenty"), "generation.steps: expected an integer, got 'twenty'"),
        (
            lambda d: d["precision"].update(unet="int4"),
            "precision.unet: 'int4' is not allowed (use one of 'fp32', 'fp16', 'int8')",
        ),
        (lambda d: d.pop("power"), "power: missing"),
        (lambda d: d.update(backends=["ort-cpu", "cuda-magic"]), "backends[1]: 'cuda-magic' is not allowed"),
        (lambda d: d["power"].update(source="a blog"), "power.source: has no date"),
        (lambda d: d["shapes"]["batch"].update(min=4), "shapes.batch.min: needs 0 < min ≤ opt ≤ max, got 4/1/4"),
        (lambda d: d["generation"].update(resolution=70), "generation.resolution: 70 is not a multiple of 8"),
        (lambda d: d["hardware"].update(utilization=1.5), "hardware.utilization: must be in (0, 1]"),
        (
            lambda d: d["low_memory"].__class__ and d.update(low_memory="yes please"),
            "low_memory: expected true or false",
        ),
    ],
)
def test_invalid_profiles_name_file_key_and_fix(tmp_path, mutate, expected):
    data = _base()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    line = err.value.one_line()
    assert str(path) in line
    assert expected in line
    assert "\n" not in line


def test_every_problem_is_reported_at_once(tmp_path):
    data = _base()
    data["colour"] = "blue"
    data["generation"]["steps"] = "x"
    data.pop("electricity")
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    msg = err.value.one_line()
    assert "colour: unknown key" in msg and "generation.steps" in msg and "electricity: missing" in msg


def test_broken_yaml_syntax_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nbackends: [ort-cpu\nprecision: {}\n")
    with pytest.raises(ProfileError, match=r"bad.yaml: not valid YAML at line \d"):
        load_profile(path)


def test_unknown_profile_name_lists_the_known_ones():
    with pytest.raises(ProfileError, match="use one of: cpu-intel, cpu-x86"):
        load_profile("jetson-thor")


def test_cli_profiles_list_and_show_json(run_cli):
    code, out, _ = run_cli("profiles", "list", "--json")
    assert code == 0
    names = {p["name"] for p in json.loads(out)}
    assert REQUIRED <= names
    code, out, _ = run_cli("profiles", "show", "laptop-rtx4060-8gb", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["precision"]["unet"] == "fp16" and shown["device"]["gpu_name_contains"] == ["RTX 4060 Laptop"]
    code, out, _ = run_cli("profiles", "show", "cpu-x86")
    assert code == 0 and "memory_budget_gb" in out


def test_cli_invalid_profile_is_one_line_and_nonzero(run_cli, tmp_path):
    data = _base()
    data["precision"]["unet"] = "int4"
    path = _write(tmp_path, data)
    code, out, err = run_cli("profiles", "show", str(path))
    assert code == ProfileError.exit_code
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("edgegen: error:") and "precision.unet" in err
    code, _, err = run_cli("profiles", "validate", "cpu-x86", str(path))
    assert code == ProfileError.exit_code and "cpu-x86.yaml: ok" not in err
