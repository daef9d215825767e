"""Where a reader is in a study: their own image order per trial, the current trial and the next
image. Pure: derived from the study seed, the reader's ID and what they have answered, so a
reload, a closed browser or a server restart resumes at the same image with no stored cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=4096)
def reader_order(ids: tuple[str, ...], seed: int, reader_id: int, trial: int) -> tuple[str, ...]:
    """A seeded permutation per (reader, trial): order effects average out across readers."""
    ordered = sorted(ids)
    rng = np.random.default_rng([seed, reader_id, trial])
    return tuple(ordered[i] for i in rng.permutation(len(ordered)))


@dataclass(frozen=True)
class Position:
    trial: int | None  # None: every trial is finished
    image_id: str | None
    answered: int  # in the current trial
    total: int  # images per trial
    trials: int

    @property
    def done(self) -> bool:
        return self.trial is None

    @property
    def step(self) -> int:
        """1-based number of the image on screen, counted over all trials."""
        return ((self.trial or self.trials) - 1) * self.total + self.answered + 1


def position(
    ids: tuple[str, ...], seed: int, trials: tuple[int, ...], reader_id: int, answered: dict[int, set[str]]
) -> Position:
    for trial in trials:
        done = answered.get(trial, set())
        if len(done & set(ids)) < len(ids):
            nxt = next(i for i in reader_order(ids, seed, reader_id, trial) if i not in done)
            return Position(trial, nxt, len(done & set(ids)), len(ids), len(trials))
    return Position(None, None, len(ids), len(ids), len(trials))


def current_trial(trials: tuple[int, ...], ids: tuple[str, ...], answered: dict[int, set[str]]) -> int | None:
    """The first trial not yet finished (a reader may only answer in it or an earlier one)."""
    for trial in trials:
        if len(answered.get(trial, set()) & set(ids)) < len(ids):
            return trial
    return None
