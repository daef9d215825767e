"""The typed errors of edgegen.

Library code raises these; only `edgegen.cli` turns them into a one-line message and an exit
code (see `edgegen.cli.errors`). Each class carries its exit code so the mapping lives in one
place and scripts can tell failure kinds apart.
"""

from __future__ import annotations


class EdgegenError(Exception):
    """Base class: a failure the user can act on. `hint` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        return text

    def __str__(self) -> str:
        return self.one_line()

    def __reduce__(self):
        # Pickled across processes (Ray workers, multiprocessing) with its hint: the default
        # reduce re-calls __init__ with args only.
        return (self.__class__, (self.message,), {"hint": self.hint})


class UsageError(EdgegenError):
    """Conflicting or invalid flags, caught at the boundary."""

    exit_code = 2


class ProfileError(EdgegenError):
    """A device profile is missing, malformed or fails the schema."""

    exit_code = 3


class ModelError(EdgegenError):
    """A model folder or preset is missing, incomplete, or refused (e.g. pickle weights)."""

    exit_code = 4


class DataError(EdgegenError):
    """A dataset, image or DICOM file is missing, corrupt, empty or unlabeled."""

    exit_code = 5


class ArtifactError(EdgegenError):
    """An exported artifact (ONNX, engine, manifest) is missing, corrupt or does not match."""

    exit_code = 6


class ValidationError(EdgegenError):
    """An exported graph disagrees with its framework model beyond tolerance."""

    exit_code = 7


class BackendUnavailableError(EdgegenError):
    """The requested backend cannot run on this machine (not installed, no device)."""

    exit_code = 8


class CloudError(EdgegenError):
    """A cloud API call failed for good, or the budget would be exceeded."""

    exit_code = 9


class NumericalError(EdgegenError):
    """NaN or Inf appeared in a tensor during generation or inference."""

    exit_code = 10


class ClusterError(EdgegenError):
    """A Ray cluster cannot be reached or cannot host a worker, or a shard kept failing on it."""

    exit_code = 12


class MemoryBudgetError(EdgegenError):
    """A run's predicted peak memory exceeds the device profile's budget (checked before loading)."""

    exit_code = 13
