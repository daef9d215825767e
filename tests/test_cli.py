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


def test_help_lists_every_command():
    result = _edgegen("--help")
    assert result.returncode == 0
    for command in ("doctor", "profiles", "models"):
        assert command in result.stdout


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
