"""The command line as a user meets it: help, one-line errors, exit codes, debug tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgegen.cli.errors import INTERNAL_ERROR_EXIT, report_error
from edgegen.errors import DataError, EdgegenError, ModelError, ProfileError


def _edgegen(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "edgegen"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )


def _commands(app, prefix=()) -> list[tuple[str, ...]]:
    """Every command path of the typer app, sub-apps included (from the app itself, so a new
    command is covered without editing this test)."""
    out = [(*prefix, c.name or c.callback.__name__) for c in app.registered_commands]
    for group in app.registered_groups:
        out += _commands(group.typer_instance, (*prefix, group.name))
    return out


def test_help_lists_every_command():
    result = _edgegen("--help")
    assert result.returncode == 0
    from edgegen.cli.app import app

    for path in _commands(app):
        assert path[0] in result.stdout


def test_every_command_has_help(run_cli):
    from edgegen.cli.app import app

    paths = _commands(app)
    assert len(paths) >= 20  # bench, report, doctor, profiles ×3, models ×3, train-*, export, build, ...
    for path in paths:
        code, out, err = run_cli(*path, "--help")
        assert code == 0 and "Usage:" in out and not err, path


def test_console_script_error_is_one_line_with_exit_code():
    result = _edgegen("profiles", "show", "no-such-profile")
    assert result.returncode == ProfileError.exit_code
    assert result.stderr.strip().count("\n") == 0 and "unknown profile 'no-such-profile'" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_env_shows_the_traceback():
    result = _edgegen("profiles", "show", "no-such-profile", env={"EDGEGEN_DEBUG": "1"})
    assert result.returncode == ProfileError.exit_code and "Traceback" in result.stderr


def test_exit_codes_are_distinct_per_error_kind():
    codes = [cls.exit_code for cls in EdgegenError.__subclasses__()]
    assert len(codes) == len(set(codes)) and all(c not in (0, INTERNAL_ERROR_EXIT) for c in codes)


def test_report_error_mapping(capsys):
    assert report_error(DataError("bad.png is not an image", hint="remove it")) == DataError.exit_code
    assert capsys.readouterr().err == "edgegen: error: bad.png is not an image (remove it)\n"
    assert report_error(ZeroDivisionError("division by zero")) == INTERNAL_ERROR_EXIT
    assert "internal error: ZeroDivisionError" in capsys.readouterr().err


@pytest.mark.parametrize("args", [("models", "show", "sd99"), ("models", "check", "/definitely/not/here")])
def test_model_errors_exit_nonzero(run_cli, args):
    code, _, err = run_cli(*args)
    assert code == ModelError.exit_code and err.startswith("edgegen: error:")


def test_gaps_a_new_user_found_stay_closed(run_cli, tmp_path, tiny_export):
    """Issue 16's list: evaluate accepts the default; export offers the NNCF IR; a narrower export
    adds to the manifest; `--steps 0` is refused; an untrained class needs an explicit opt-in."""
    import json

    from edgegen.errors import UsageError
    from edgegen.export.artifacts import load_manifest
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.types import Precision

    code, out, _ = run_cli("evaluate", "default", "--bootstrap", "20", "--json")
    assert code == 0 and json.loads(out)["report"]["accuracy"]["value"] > 0.8
    code, out, _ = run_cli("export", "--help")
    assert code == 0 and "--openvino" in out
    request, first = tiny_export
    before = {(a.component, a.precision) for a in first.manifest.components}
    again = export_model(ExportRequest(**{**request.__dict__, "precisions": (Precision.FP32,)}))
    after = {(a.component, a.precision) for a in load_manifest(again.folder / "manifest.json").components}
    assert before <= after and any(p is Precision.INT8 for _, p in after)  # nothing forgotten
    out_dir = tmp_path / "g"
    for args in (("--steps", "0"), ("--n", "0"), ("--batch-size", "0")):
        code, _, err = run_cli("generate", "--out", str(out_dir), "--backend", "torch", *args)
        assert code == UsageError.exit_code and "must be ≥ 1" in err and err.count("\n") == 1
    base = ("generate", "--out", str(out_dir), "--backend", "torch", "--n", "1", "--steps", "1", "--size", "64")
    code, _, err = run_cli(*base, "--class", "tuberculosis")
    assert code == UsageError.exit_code and "not one the model was trained on" in err and not out_dir.exists()
    code, _, _ = run_cli(*base, "--class", "tuberculosis", "--allow-unknown-conditions")
    lines = (out_dir / "manifest.jsonl").read_text().splitlines()
    assert code == 0 and len(lines) == 1 and json.loads(lines[0])["class"] == "tuberculosis"
