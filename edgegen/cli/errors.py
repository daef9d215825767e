"""The one place where library errors become a one-line message and an exit code.

Set EDGEGEN_DEBUG=1 to see the full traceback instead.
"""

from __future__ import annotations

import os
import sys
import traceback

from edgegen.errors import EdgegenError

INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE: a bug in edgegen, not the user's input


def debug_enabled() -> bool:
    return os.environ.get("EDGEGEN_DEBUG", "").lower() not in ("", "0", "false", "no")


def report_error(exc: BaseException) -> int:
    """Print the error the way a user should see it and return the exit code to use."""
    if debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, EdgegenError):
        print(f"edgegen: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, MemoryError):
        print(
            "edgegen: error: out of memory (try a smaller batch, resolution or a low-memory profile)", file=sys.stderr
        )
        return INTERNAL_ERROR_EXIT
    text = " ".join(str(exc).split()) or type(exc).__name__
    print(
        f"edgegen: internal error: {type(exc).__name__}: {text} (rerun with EDGEGEN_DEBUG=1 for the traceback)",
        file=sys.stderr,
    )
    return INTERNAL_ERROR_EXIT
