"""Search progress as plain events, for whoever listens: a terminal bar, the
flow run's Prefect progress artifact, a test.

The search stage reports; it does not know who draws. Listeners are
process-wide and added for the length of a `with listening(...)` block.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchProgress:
    """One step of the search: a trial began or ended, or an epoch ended."""

    event: Literal["trial_begin", "epoch_end", "trial_end"]
    trial: str
    trials_done: int
    max_trials: int | None
    epoch: int = 0
    epochs: int = 0
    family: str | None = None
    score: float | None = None
    best_score: float | None = None

    @property
    def fraction(self) -> float | None:
        """Share of the trial budget done, in [0, 1]; None when unbounded."""
        if not self.max_trials:
            return None
        return min(1.0, self.trials_done / self.max_trials)


Listener = Callable[[SearchProgress], None]
_listeners: list[Listener] = []


@contextlib.contextmanager
def listening(*listeners: Listener) -> Iterator[None]:
    """Send search progress to `listeners` inside the block."""
    _listeners.extend(listeners)
    try:
        yield
    finally:
        for listener in listeners:
            _listeners.remove(listener)


def report(progress: SearchProgress) -> None:
    """Hand one event to every listener; a failing listener never stops a search."""
    for listener in list(_listeners):
        try:
            listener(progress)
        except Exception as exc:  # progress is a courtesy, training is the job
            logger.warning("progress listener %r failed: %s", listener, exc)


def oracle_progress(
    oracle, event: str, trial, epoch: int = 0, epochs: int = 0
) -> SearchProgress:
    """`trial`'s progress as `oracle` sees the whole search (alone, or the chief)."""
    done = [t for t in oracle.trials.values() if t.status != "RUNNING"]
    best = oracle.get_best_trials(1)
    return SearchProgress(
        event=event,
        trial=trial.trial_id,
        trials_done=len(done),
        max_trials=oracle.max_trials,
        epoch=epoch,
        epochs=epochs,
        family=trial.hyperparameters.values.get("family"),
        score=oracle.trials[trial.trial_id].score,
        best_score=best[0].score if best else None,
    )
